"""The convergence rules of SPEC 6 as pure diff cases: grants of other grantors, cascades of table-level revokes
to columns, drops, and default privileges for every creator of a schema."""

from __future__ import annotations

from dataclasses import replace

from test_diff_rules import PG, TABLES, TARGET, managed, role, state

from provisioner.core import changes as c
from provisioner.core.diff import diff_target
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import AclGroup, DefaultAcl, Grant, MembershipOptions, ObjectRef, RoleState, Traits

COLUMN, SCHEMA, TABLE = ObjectKind.COLUMN, ObjectKind.SCHEMA, ObjectKind.TABLE

MARIADB = Traits(default_roles=True, qualified_accounts=True, role_host="", drop_takes_grants=True)
ORDERS = ObjectRef(TABLE, "app", "t0")


def column(name: str) -> ObjectRef:
    return ObjectRef(COLUMN, "app", "t0", name)


def of(result, kind):
    return [ch for ch in result.changes if isinstance(ch, kind)]


def test_a_grant_by_another_grantor_is_revoked_in_its_name_and_the_declared_one_granted_by_the_admin():
    groups = [AclGroup(TABLE, "app", frozenset({ORDERS}), {}, {}, {"svc": {"legacy": frozenset({"SELECT"})}})]
    roles = [managed("svc"), RoleState(name="legacy", login=False)]
    declared = role("svc", grants=(Grant(ORDERS, frozenset({"SELECT"})),))
    result = diff_target(TARGET, [declared], state(roles, groups), traits=PG)
    [revoke] = of(result, c.RevokePrivileges)
    assert revoke.grantor == "legacy" and revoke.privileges == ("SELECT",) and revoke.objects == (ORDERS,)
    assert [g.privileges for g in of(result, c.GrantPrivileges) if g.kind == TABLE] == [("SELECT",)]
    # revokes by grantors run before grant options are taken
    assert c.rank(revoke) < c.rank(c.RevokeGrantOption(action="-", target="t", principal="p", grantee="g",
                                                       privileges=(), kind=TABLE, schema="", objects=()))


def test_a_grantor_the_admin_cannot_become_is_a_plan_error_naming_the_fix():
    groups = [AclGroup(TABLE, "app", frozenset({ORDERS}), {}, {}, {"svc": {"legacy": frozenset({"SELECT"})}})]
    roles = [managed("svc"), RoleState(name="legacy", login=False, admin_can_become=False)]
    result = diff_target(TARGET, [role("svc")], state(roles, groups), traits=PG)
    assert any("GRANT legacy TO dbadmin" in e for e in result.errors), result.errors


def test_a_table_level_revoke_is_followed_by_the_declared_columns_and_covers_column_revokes():
    groups = [AclGroup(TABLE, "app", frozenset({ORDERS}), {"svc": frozenset({"SELECT", "UPDATE"})}),
              AclGroup(COLUMN, "app", frozenset({column("a")}), {"svc": frozenset({"SELECT", "UPDATE"})})]
    declared = role("svc", grants=(Grant(column("a"), frozenset({"SELECT"})),
                                   Grant(column("b"), frozenset({"SELECT"}))))
    result = diff_target(TARGET, [declared], state([managed("svc")], groups), traits=PG)
    revokes = of(result, c.RevokePrivileges)
    assert [(r.kind, r.privileges) for r in revokes] == [(TABLE, ("SELECT", "UPDATE"))]  # UPDATE (a) goes with it
    [restore] = of(result, c.RestoreColumnPrivileges)
    assert restore.objects == (column("a"), column("b")) and restore.privileges == ("SELECT",)
    assert not [g for g in of(result, c.GrantPrivileges) if g.kind == COLUMN]  # not granted before the revoke
    order = [type(ch) for ch in result.changes]
    assert order.index(c.RestoreColumnPrivileges) > order.index(c.RevokePrivileges)


def test_dropping_on_mariadb_is_one_drop_user_and_on_postgres_drop_owned_after_other_grantors():
    table = {"'gone'@'%'": frozenset({"UPDATE"})}
    groups = [AclGroup(TABLE, "app", frozenset({ORDERS}), table),
              AclGroup(COLUMN, "app", frozenset({column("qty")}), table)]
    gone = RoleState(name="gone", login=True, host="%", comment=managed("gone").comment)
    current = state([], groups)
    current.database.roles = {"'gone'@'%'": gone}
    result = diff_target(replace(TARGET, engine="mariadb"), [], current, traits=MARIADB)
    assert [type(ch).__name__ for ch in result.changes] == ["DropRole"]
    foreign = [AclGroup(TABLE, "app", frozenset({ORDERS}), {"gone": frozenset({"SELECT"})}, {},
                        {"gone": {"legacy": frozenset({"SELECT"})}})]
    result = diff_target(TARGET, [], state([managed("gone"), RoleState("legacy", False)], foreign), traits=PG)
    assert [(type(ch).__name__, getattr(ch, "grantor", None)) for ch in result.changes] == [
        ("RevokePrivileges", "legacy"), ("DropOwned", None), ("DropRole", None)]


def test_default_privileges_cover_the_owner_and_every_role_that_can_create_there():
    schema = AclGroup(SCHEMA, "", frozenset({ObjectRef(SCHEMA, "", "app")}),
                      {"migrator": frozenset({"CREATE", "USAGE"}), "PUBLIC": frozenset({"CREATE"}),
                       "locked": frozenset({"CREATE"})})
    roles = [managed("reader"), RoleState("migrator", False), RoleState("locked", False, admin_holds=False)]
    current = state(roles, [AclGroup(TABLE, "app", frozenset(TABLES), {"reader": frozenset({"SELECT"})})],
                    [DefaultAcl("app_owner", "app", TABLE, {"reader": frozenset({"SELECT"})})])
    current.database.acl_groups = [g for g in current.database.acl_groups if g.kind != SCHEMA] + [schema]
    reader = role("reader", grants=(Grant(ObjectRef(TABLE, "app", "*"), frozenset({"SELECT"})),))
    writer = role("writer", grants=(Grant(ObjectRef(SCHEMA, "", "app"), frozenset({"CREATE"})),))
    result = diff_target(TARGET, [reader, writer], current, traits=PG)
    owners = sorted(ch.owner for ch in of(result, c.GrantDefaultPrivileges) if ch.grantee == "reader")
    assert owners == ["migrator", "writer"]  # app_owner has it already; writer is granted CREATE in this apply
    assert any("PUBLIC can CREATE in schema app" in w for w in result.warnings)
    assert any("objects locked creates" in w and "GRANT locked TO dbadmin" in w for w in result.warnings)
    # with default_privileges_for, exactly those roles
    result = diff_target(replace(TARGET, default_privileges_for=("app_owner",)), [reader], current, traits=PG)
    assert not of(result, c.GrantDefaultPrivileges) and not result.warnings


def test_a_role_can_be_retired_to_a_role_the_same_apply_creates():
    from provisioner.core.model import RetireSettings

    owner = replace(managed("old_batch", login=True), owned_objects=2, owned_example="table app.runs")
    leaving = replace(role("old_batch", login=True), state="absent",
                      retire=RetireSettings(reassign_owned_to="films_owner", terminate_sessions=True))
    result = diff_target(TARGET, [leaving, role("films_owner")], state([owner]), traits=PG)
    assert result.errors == []
    kinds = [type(ch).__name__ for ch in result.changes]
    assert kinds.index("CreateRole") < kinds.index("ReassignOwned") < kinds.index("DropOwned") < kinds.index("DropRole")
    assert kinds.index("AlterRole") < kinds.index("TerminateSessions") < kinds.index("ReassignOwned")
    result = diff_target(TARGET, [leaving], state([owner]), traits=PG)
    assert any("role films_owner does not exist" in e for e in result.errors)


def test_a_membership_held_without_inherit_provides_no_implied_privilege():
    """PostgreSQL 16+: `inherit: false` gives the member nothing of the role without SET ROLE, so the CONNECT and
    USAGE its own grants imply are granted to it, not counted as reaching it through the role."""
    reader = role("reader", grants=(Grant(ORDERS, frozenset({"SELECT"})),))
    for inherit, granted in ((True, False), (False, True)):
        account = role("app", login=True, grants=(Grant(ORDERS, frozenset({"INSERT"})),), member_of=("reader",),
                       membership_options=(("reader", MembershipOptions(inherit=inherit)),))
        current = state([managed("reader"), managed("app", login=True, member_of=frozenset({"reader"}))])
        result = diff_target(TARGET, [reader, account], current, traits=PG)
        implied = [g for g in of(result, c.GrantPrivileges) if g.grantee == "app" and g.implied]
        assert bool(implied) is granted, (inherit, implied)
