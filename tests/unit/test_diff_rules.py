"""The diff as a pure function over hand-built states: no server needed, every rule checked directly."""

from __future__ import annotations

from dataclasses import replace

from provisioner.core import changes as c
from provisioner.core.binding import BINDING_TAG, endpoint_of, record
from provisioner.core.conventions import parse_marker, role_comment
from provisioner.core.diff import DiffOptions, diff_target
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import (
    AclGroup,
    AdminSource,
    CurrentState,
    DatabaseState,
    DefaultAcl,
    Grant,
    ObjectRef,
    Principal,
    RoleState,
    SecretState,
    Target,
    Traits,
)

DATABASE, SCHEMA, TABLE = ObjectKind.DATABASE, ObjectKind.SCHEMA, ObjectKind.TABLE

PG = Traits(implied_grants=True, schema_wildcards=True)
TARGET = Target(name="films", engine="postgres", admin=AdminSource(url_env="X"), database="filmdb")
TABLES = [ObjectRef(TABLE, "app", f"t{i}") for i in range(5)]


def state(roles=(), groups=(), defaults=(), secrets=()) -> CurrentState:
    base_groups = [
        AclGroup(DATABASE, "", frozenset({ObjectRef(DATABASE, "", "filmdb")}), {}),
        AclGroup(SCHEMA, "", frozenset({ObjectRef(SCHEMA, "", "app")}), {}),
    ]
    db = DatabaseState(server_version="15", admin_user="dbadmin", roles={r.name: r for r in roles},
                       acl_groups=base_groups + list(groups), default_acls=list(defaults),
                       schema_owners={"app": "app_owner"})
    return CurrentState(db, {s.name: s for s in secrets}, {"host": "h", "port": 5432, "dbname": "filmdb"})


def role(name, login=False, **kw) -> Principal:
    return Principal(name=name, target="films", login=login, **kw)


def grant(kind, schema, name, *privs) -> Grant:
    return Grant(ObjectRef(kind, schema, name), frozenset(privs))


def managed(name, login=False, **kw) -> RoleState:
    return RoleState(name=name, login=login, comment=role_comment(None, "films", False), **kw)


def kinds(result):
    return [(type(ch).__name__, getattr(ch, "privileges", None), ch.implied) for ch in result.changes]


def test_wildcard_grants_every_table_in_one_statement_plus_default_privileges():
    groups = [AclGroup(TABLE, "app", frozenset(TABLES), {})]
    readers = role("readers", grants=(grant(TABLE, "app", "*", "SELECT"),))
    result = diff_target(TARGET, [readers], state(groups=groups), traits=PG)
    grants = [ch for ch in result.changes if isinstance(ch, c.GrantPrivileges)]
    table_grant = next(g for g in grants if g.kind == TABLE)
    assert table_grant.all_in_schema and table_grant.privileges == ("SELECT",) and len(table_grant.objects) == 5
    implied = [(g.kind, g.privileges) for g in grants if g.implied]
    assert implied == [(DATABASE, ("CONNECT",)), (SCHEMA, ("USAGE",))]
    [default] = [ch for ch in result.changes if isinstance(ch, c.GrantDefaultPrivileges)]
    assert (default.owner, default.schema, default.kind, default.privileges) == ("app_owner", "app", TABLE,
                                                                                ("SELECT",))
    assert isinstance(result.changes[0], c.CreateRole)


def test_explicit_table_names_never_use_all_in_schema():
    groups = [AclGroup(TABLE, "app", frozenset(TABLES[:1]), {}), AclGroup(TABLE, "app", frozenset(TABLES[1:]), {})]
    wanted = tuple(grant(TABLE, "app", t.name, "SELECT") for t in TABLES)
    result = diff_target(TARGET, [role("r", grants=wanted)], state(groups=groups), traits=PG)
    [table_grant] = [ch for ch in result.changes if isinstance(ch, c.GrantPrivileges) and ch.kind == TABLE]
    assert not table_grant.all_in_schema and len(table_grant.objects) == 5


def test_undeclared_privileges_of_a_managed_role_are_revoked_unmanaged_roles_untouched():
    have = {"r": frozenset({"SELECT", "INSERT"}), "legacy": frozenset({"SELECT", "DELETE"})}
    groups = [AclGroup(TABLE, "app", frozenset(TABLES), have)]
    roles = [managed("r"), RoleState(name="legacy", login=True)]
    desired = [role("r", grants=(grant(TABLE, "app", "*", "SELECT"),))]
    result = diff_target(TARGET, desired, state(roles, groups), traits=PG)
    revokes = [ch for ch in result.changes if isinstance(ch, c.RevokePrivileges)]
    assert [(r.grantee, r.privileges, r.all_in_schema) for r in revokes] == [("r", ("INSERT",), True)]
    assert all(getattr(ch, "grantee", getattr(ch, "name", "r")) != "legacy" for ch in result.changes)


def test_no_changes_when_state_matches():
    groups = [AclGroup(TABLE, "app", frozenset(TABLES), {"r": frozenset({"SELECT"})}),
              AclGroup(DATABASE, "", frozenset({ObjectRef(DATABASE, "", "other")}), {})]
    db_groups = [AclGroup(DATABASE, "", frozenset({ObjectRef(DATABASE, "", "filmdb")}), {"r": frozenset({"CONNECT"})}),
                 AclGroup(SCHEMA, "", frozenset({ObjectRef(SCHEMA, "", "app")}), {"r": frozenset({"USAGE"})})]
    current = state([managed("r")], groups, [DefaultAcl("app_owner", "app", TABLE, {"r": frozenset({"SELECT"})})])
    current.database.acl_groups = db_groups + groups
    result = diff_target(TARGET, [role("r", grants=(grant(TABLE, "app", "*", "SELECT"),))], current, traits=PG)
    assert result.changes == [] and result.errors == []


def test_removed_role_is_dropped_only_if_the_provisioner_created_it():
    groups = [AclGroup(TABLE, "app", frozenset(TABLES), {"gone": frozenset({"SELECT"})})]
    adopted = RoleState(name="kept", login=True, comment=role_comment("x", "films", True))
    other_target = RoleState(name="elsewhere", login=True, comment=role_comment(None, "billing", False))
    result = diff_target(TARGET, [], state([managed("gone"), adopted, other_target,
                                            RoleState(name="manual", login=True)], groups))
    assert [type(ch).__name__ for ch in result.changes] == ["DropOwned", "DropRole"]
    assert result.changes[-1].name == "gone"
    assert any("kept left the manifest" in w for w in result.warnings)
    # An admin without the role's privileges cannot DROP OWNED BY it: each privilege is revoked instead.
    limited = replace(managed("gone"), admin_holds=False)
    result = diff_target(TARGET, [], state([limited], groups))
    assert [type(ch).__name__ for ch in result.changes] == ["RevokePrivileges", "DropRole"]


def test_dropping_a_role_that_owns_objects_is_a_clear_error():
    owner = RoleState(name="gone", login=True, comment=role_comment(None, "films", False), owned_objects=2,
                      owned_example="table app.t9")
    result = diff_target(TARGET, [], state([owner]), traits=PG)
    assert not any(isinstance(ch, c.DropRole) for ch in result.changes)
    assert "owns 2 object(s) in database filmdb (e.g. table app.t9)" in result.errors[0]
    assert "REASSIGN OWNED BY gone" in result.errors[0]


def test_missing_table_is_a_plan_error():
    result = diff_target(TARGET, [role("r", grants=(grant(TABLE, "app", "nope", "SELECT"),))], state(), traits=PG)
    assert result.errors == ["r: table app.nope does not exist on target films"]


def test_implied_grant_is_not_implied_when_declared():
    groups = [AclGroup(TABLE, "app", frozenset(TABLES), {})]
    wanted = (grant(TABLE, "app", "t1", "SELECT"), grant(SCHEMA, "", "app", "USAGE"))
    result = diff_target(TARGET, [role("r", grants=wanted)], state(groups=groups), traits=PG)
    schema_grant = next(ch for ch in result.changes if isinstance(ch, c.GrantPrivileges) and ch.kind == SCHEMA)
    assert not schema_grant.implied


def test_role_attributes_membership_and_comment_converge():
    current = RoleState(name="r", login=True, connection_limit=5, comment="old",
                        attributes=frozenset({"CREATEDB"}), member_of=frozenset({"old_group"}))
    desired = role("r", login=True, connection_limit=10, member_of=("readers",), description="new")
    result = diff_target(TARGET, [role("readers"), desired], state([current, managed("readers")]),
                         DiffOptions(), Traits())
    alters = {ch.setting: (ch.old, ch.new) for ch in result.changes if isinstance(ch, c.AlterRole)}
    assert alters["connection_limit"] == (5, 10)
    assert alters["attributes"] == (("CREATEDB",), ())
    assert alters["comment"][1] == "new [managed by provisioner: target=films, adopted]"
    assert [(type(ch).__name__, ch.role) for ch in result.changes if hasattr(ch, "role")] == [
        ("GrantMembership", "readers"), ("RevokeMembership", "old_group")]


def test_secret_lifecycle_changes():
    account = role("app", login=True)
    created = diff_target(TARGET, [account], state(), traits=PG)
    assert [type(ch).__name__ for ch in created.changes][:2] == ["CreateSecret", "CreateRole"]
    assert created.changes[1].secret == "films/app"
    secret = SecretState(name="films/app", arn="arn", target="films", account="app",
                         tags={"provisioner:managed": "true", "provisioner:target": "films",
                               "provisioner:account": "app", "provisioner:sync": "pending",
                               BINDING_TAG: record(endpoint_of({"engine": "postgres", "host": "h", "port": 5432,
                                                                "dbname": "filmdb"}, "app"))},
                         kms_key=None, description="Credentials of database account app on target films "
                         "(managed by provisioner)", stages={"v1": ("AWSCURRENT",)},
                         fields={"engine": "postgres", "host": "h", "port": 5432, "username": "app",
                                 "dbname": "filmdb"}, has_password=True)
    interrupted = diff_target(TARGET, [account], state([managed("app", login=True)], secrets=[secret]), traits=PG)
    assert [type(ch).__name__ for ch in interrupted.changes] == ["ConfirmPassword", "SetPassword"]
    gone = diff_target(TARGET, [], state(secrets=[secret]), traits=PG)
    assert [type(ch).__name__ for ch in gone.changes] == ["DeleteSecret"]


def test_marker_round_trip():
    assert parse_marker(role_comment("hello world", "t1", False)).description == "hello world"
    assert parse_marker(role_comment(None, "t1", True)).adopted
    assert parse_marker("just a comment") is None


def test_offline_model_converges_for_the_example_manifest():
    """Plan the example against an empty in-memory server, carry the plan out, plan again: nothing left."""
    from pathlib import Path

    from provisioner.core.diff import DiffOptions
    from provisioner.engines import get_engine
    from provisioner.manifest import load
    from provisioner.pipeline.offline import applied_state

    manifest = load([Path(__file__).resolve().parents[2] / "accounts.yaml"])
    for name, target in manifest.targets.items():
        traits = get_engine(target.engine).traits
        principals = manifest.for_target(name)
        state = applied_state(target, principals, principals, traits)
        again = diff_target(target, principals, state, DiffOptions(), traits)
        assert again.changes == [] and again.errors == [], (name, again.changes[:3])
        assert any(role.name.endswith("_clone") for role in state.database.roles.values())
