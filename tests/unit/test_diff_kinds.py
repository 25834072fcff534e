"""Every object kind beyond the first six, and ownership (SPEC 9), as the pure diff sees them: what a managed
principal holds that the file does not declare goes, what it declares comes with what it implies, a privilege
the server's version lacks is a plan error, and `owns:` transfers ownership in an order that keeps what the
file grants the old owner."""

from __future__ import annotations

from dataclasses import replace

import pytest

from provisioner.core import changes as c
from provisioner.core.conventions import role_comment
from provisioner.core.diff import diff_target
from provisioner.core.engine_facts import traits
from provisioner.core.kinds import SPECS, Family, ObjectKind, keys_of, spec
from provisioner.core.model import (
    AclGroup,
    AdminSource,
    CurrentState,
    DatabaseState,
    DefaultAcl,
    Grant,
    ObjectRef,
    Owned,
    Principal,
    RoleState,
    Target,
)
from provisioner.manifest import load_sources
from provisioner.pipeline.offline import offline_plan

K = ObjectKind
TARGET = Target(name="films", engine="postgres", admin=AdminSource(url_env="X"), database="filmdb")
PG15 = traits("postgres", "15.4")


def ref(kind: ObjectKind, name: str, schema: str = "", column: str = "") -> ObjectRef:
    return ObjectRef(kind, schema, name, column)


def group(kind: ObjectKind, *refs: ObjectRef, owner: str = "dbadmin", **grants: frozenset[str]) -> AclGroup:
    return AclGroup(kind, refs[0].schema, frozenset(refs), dict(grants), owner=owner)


def state(*groups: AclGroup, roles: dict[str, RoleState] | None = None, defaults=(), version: str = "15.4",
          schema_owners: dict[str, str] | None = None, ungrantable=None) -> CurrentState:
    base = [group(K.DATABASE, ref(K.DATABASE, "filmdb")), group(K.SCHEMA, ref(K.SCHEMA, "app"))]
    everyone = {"dbadmin": RoleState("dbadmin", True, attributes=frozenset({"SUPERUSER"}))}
    everyone.update(roles or {})
    db = DatabaseState(version, "dbadmin", everyone, base + list(groups), list(defaults),
                       schema_owners if schema_owners is not None else {"app": "dbadmin"},
                       name="filmdb", ungrantable=ungrantable or {})
    return CurrentState(db, {}, {"host": "h", "port": 5432, "dbname": "filmdb"})


def managed(name: str, login: bool = False, **kw) -> RoleState:
    return RoleState(name=name, login=login, comment=role_comment(None, "films", False), **kw)


def principal(name: str, *grants: Grant, login: bool = False, **kw) -> Principal:
    return Principal(name=name, target="films", login=login, grants=grants, rotation=replace(
        Principal(name, "films", login).rotation, strategy="none"), **kw)


def statements(result, kind=None) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(type(ch).__name__, str(ch.objects[0]), ch.privileges) for ch in result.changes
            if isinstance(ch, c.PrivilegeChange) and (kind is None or ch.kind == kind)]


EVERY_NEW_KIND = [
    (K.TYPE, ref(K.TYPE, "mood", "app"), "USAGE"),
    (K.LANGUAGE, ref(K.LANGUAGE, "plpgsql"), "USAGE"),
    (K.FOREIGN_DATA_WRAPPER, ref(K.FOREIGN_DATA_WRAPPER, "postgres_fdw"), "USAGE"),
    (K.FOREIGN_SERVER, ref(K.FOREIGN_SERVER, "warehouse"), "USAGE"),
    (K.TABLESPACE, ref(K.TABLESPACE, "fast_ssd"), "CREATE"),
    (K.PARAMETER, ref(K.PARAMETER, "work_mem"), "SET"),
    (K.LARGE_OBJECT, ref(K.LARGE_OBJECT, "16385"), "SELECT"),
]


@pytest.mark.parametrize("kind, obj, privilege", EVERY_NEW_KIND, ids=[k.value for k, *_ in EVERY_NEW_KIND])
def test_what_a_managed_principal_holds_on_any_kind_is_revoked_unless_declared(kind, obj, privilege):
    held = state(group(kind, obj, app=frozenset({privilege})), roles={"app": managed("app")})
    result = diff_target(TARGET, [principal("app")], held, traits=PG15)
    assert statements(result, kind) == [("RevokePrivileges", str(obj), (privilege,))]


@pytest.mark.parametrize("kind, obj, privilege", [k for k in EVERY_NEW_KIND if spec(k[0]).key],
                         ids=[k.value for k, *_ in EVERY_NEW_KIND if spec(k).key])
def test_a_declared_privilege_on_any_kind_is_granted_with_what_it_implies(kind, obj, privilege):
    held = state(group(kind, obj), roles={"app": managed("app")})
    result = diff_target(TARGET, [principal("app", Grant(obj, frozenset({privilege})))], held, traits=PG15)
    grants = [(k, str(o), p) for k, o, p in statements(result)]
    assert ("GrantPrivileges", str(obj), (privilege,)) in grants
    implied = {(ch.kind, str(ch.objects[0])) for ch in result.changes if isinstance(ch, c.GrantPrivileges)
               and ch.implied}
    # A type lives in a schema (USAGE on it) and in a database (CONNECT); a tablespace or a parameter in neither.
    want = set()
    if spec(kind).implies_usage:
        want.add((K.SCHEMA, "app"))
    if spec(kind).implies_connect:
        want.add((K.DATABASE, "filmdb"))
    assert implied == want


def test_default_privileges_of_every_object_type_are_revoked_from_managed_grantees():
    defaults = [DefaultAcl("dbadmin", "", K.SCHEMA, {"app": frozenset({"USAGE"})}),
                DefaultAcl("dbadmin", "app", K.TYPE, {"app": frozenset({"USAGE"})}),
                DefaultAcl("dbadmin", "", K.LARGE_OBJECT, {"app": frozenset({"SELECT"})})]
    result = diff_target(TARGET, [principal("app")], state(roles={"app": managed("app")}, defaults=defaults),
                         traits=PG15)
    revoked = sorted((ch.kind, ch.schema, ch.privileges) for ch in result.changes
                     if isinstance(ch, c.RevokeDefaultPrivileges))
    assert revoked == sorted([(K.SCHEMA, "", ("USAGE",)), (K.TYPE, "app", ("USAGE",)),
                              (K.LARGE_OBJECT, "", ("SELECT",))])


def test_types_schema_wildcard_names_each_type_and_sets_default_privileges_on_types():
    types = group(K.TYPE, ref(K.TYPE, "mood", "app"), ref(K.TYPE, "pos", "app"))
    result = diff_target(TARGET, [principal("app", Grant(ref(K.TYPE, "*", "app"), frozenset({"USAGE"})))],
                         state(types, roles={"app": managed("app")}), traits=PG15)
    [granted] = [ch for ch in result.changes if isinstance(ch, c.GrantPrivileges) and ch.kind == K.TYPE]
    assert not granted.all_in_schema and {str(o) for o in granted.objects} == {"app.mood", "app.pos"}
    [default] = [ch for ch in result.changes if isinstance(ch, c.GrantDefaultPrivileges)]
    assert (default.kind, default.schema, default.owner) == (K.TYPE, "app", "dbadmin")


def test_parameters_need_postgresql_15_and_the_plan_says_so():
    wanted = principal("app", Grant(ref(K.PARAMETER, "work_mem"), frozenset({"SET", "ALTER SYSTEM"})))
    result = diff_target(TARGET, [wanted], state(version="14.9"), traits=traits("postgres", "14.9"))
    assert result.errors == ["app: ALTER SYSTEM, SET on a parameter needs PostgreSQL 15 or later (this server runs "
                             "PostgreSQL 14)"]
    every = principal("app", Grant(ref(K.PARAMETER, "work_mem"), frozenset(), every=True))
    assert diff_target(TARGET, [every], state(version="14.9"), traits=traits("postgres", "14.9")).errors
    assert not diff_target(TARGET, [wanted], state(group(K.PARAMETER, ref(K.PARAMETER, "work_mem"))),
                           traits=PG15).errors


def test_a_custom_parameter_need_not_exist_and_an_unknown_plain_one_is_an_error():
    custom = principal("app", Grant(ref(K.PARAMETER, "auto_explain.log_min_duration"), frozenset({"SET"})))
    result = diff_target(TARGET, [custom], state(), traits=PG15)
    assert not result.errors and statements(result, K.PARAMETER) == [
        ("GrantPrivileges", "auto_explain.log_min_duration", ("SET",))]
    typo = principal("app", Grant(ref(K.PARAMETER, "work_men"), frozenset({"SET"})))
    assert diff_target(TARGET, [typo], state(), traits=PG15).errors == [
        "app: parameter work_men does not exist on target films"]


def test_an_untrusted_language_cannot_be_granted_and_the_plan_says_why():
    c_language = ref(K.LANGUAGE, "c")
    held = state(group(K.LANGUAGE, c_language), ungrantable={c_language: "is not trusted: only superusers"})
    result = diff_target(TARGET, [principal("app", Grant(c_language, frozenset({"USAGE"})))], held, traits=PG15)
    assert result.errors == ["app: language c is not trusted: only superusers (target films)"]


def test_proxy_on_mariadb_is_revoked_from_a_managed_account():
    maria = Target(name="films", engine="mariadb", admin=AdminSource(url_env="X"))
    proxied = ref(K.PROXY, "root", column="localhost")
    proxies = AclGroup(K.PROXY, "", frozenset({proxied}), {"'app'@'%'": frozenset({"PROXY"})})
    held = CurrentState(DatabaseState("10.11.6-MariaDB", "admin", {"'app'@'%'": managed("app", True)}, [proxies],
                                      [], {}), {}, {"host": "h", "port": 3306})
    result = diff_target(maria, [principal("app", login=True)], held, traits=traits("mariadb", "10.11.6-MariaDB"))
    [revoke] = [ch for ch in result.changes if isinstance(ch, c.RevokePrivileges)]
    assert (revoke.kind, str(revoke.objects[0]), revoke.privileges) == (K.PROXY, "'root'@'localhost'", ("PROXY",))


# ---------------------------------------------------------------- ownership

T1, T2 = ref(K.TABLE, "t1", "app"), ref(K.TABLE, "t2", "app")


def owner_of(*owned: ObjectRef) -> Principal:
    return principal("app_owner", owns=tuple(Owned(o) for o in owned))


def test_owns_transfers_each_object_and_the_old_owner_keeps_what_the_file_grants_it():
    tables = group(K.TABLE, T1, T2, owner="legacy", app_owner=frozenset({"SELECT"}))
    roles = {"legacy": managed("legacy", True), "app_owner": managed("app_owner")}
    legacy = principal("legacy", Grant(ref(K.TABLE, "*", "app"), frozenset({"SELECT"})), login=True)
    result = diff_target(TARGET, [owner_of(ref(K.TABLE, "*", "app")), legacy], state(tables, roles=roles),
                         traits=PG15)
    moved = [(str(ch.obj), ch.was, ch.owner) for ch in result.changes if isinstance(ch, c.AlterOwner)]
    assert moved == [("app.t1", "legacy", "app_owner"), ("app.t2", "legacy", "app_owner")]
    # legacy owned the tables (so held SELECT without a grant); after the transfer it needs one, after it
    legacy_grants = [ch for ch in result.changes if isinstance(ch, c.GrantPrivileges) and ch.grantee == "legacy"
                     and ch.kind == K.TABLE]
    assert legacy_grants and legacy_grants[0].privileges == ("SELECT",)
    order = [type(ch) for ch in result.changes]
    assert order.index(c.AlterOwner) < order.index(c.GrantPrivileges)
    # app_owner's own grant merges into its ownership: nothing to revoke from it
    assert not [ch for ch in result.changes if isinstance(ch, c.RevokePrivileges) and ch.grantee == "app_owner"]
    assert not result.errors and not [w for w in result.warnings if "owns" in w]


def test_objects_already_owned_as_declared_change_nothing_and_owners_get_no_grants():
    tables = group(K.TABLE, T1, owner="app_owner")
    declared = replace(owner_of(T1), grants=(Grant(T1, frozenset({"SELECT"})),))
    result = diff_target(TARGET, [declared], state(tables, roles={"app_owner": managed("app_owner")}), traits=PG15)
    assert not [ch for ch in result.changes if isinstance(ch, (c.AlterOwner, c.PrivilegeChange)) and not ch.implied]


def test_a_schema_transfer_changes_who_default_privileges_are_set_for():
    reader = principal("reader", Grant(ref(K.TABLE, "*", "app"), frozenset({"SELECT"})))
    result = diff_target(TARGET, [owner_of(ref(K.SCHEMA, "app")), reader],
                         state(group(K.TABLE, T1), roles={"app_owner": managed("app_owner")}), traits=PG15)
    [moved] = [ch for ch in result.changes if isinstance(ch, c.AlterOwner)]
    assert (moved.kind, str(moved.obj), moved.was) == (K.SCHEMA, "app", "dbadmin")
    assert {ch.owner for ch in result.changes if isinstance(ch, c.GrantDefaultPrivileges)} == {"app_owner"}


def test_ownership_problems_are_plan_errors():
    two = [owner_of(ref(K.TABLE, "*", "app")), principal("other", owns=(Owned(T1),))]
    result = diff_target(TARGET, two, state(group(K.TABLE, T1)), traits=PG15)
    assert any("declared owned by both" in e for e in result.errors)
    missing = diff_target(TARGET, [owner_of(ref(K.TABLE, "nope", "app"))], state(), traits=PG15)
    assert missing.errors == ["app_owner owns table app.nope, which does not exist"]


def test_a_non_superuser_admin_needs_create_where_the_object_lives_and_membership_of_both_owners():
    admin = RoleState("dbadmin", True)  # no SUPERUSER: RDS's master user
    roles = {"dbadmin": admin, "legacy": managed("legacy", admin_holds=False),
             "app_owner": managed("app_owner", admin_can_become=False)}
    result = diff_target(TARGET, [owner_of(T1)], state(group(K.TABLE, T1, owner="legacy"), roles=roles),
                         traits=PG15)
    assert any("cannot give it away (GRANT legacy TO dbadmin)" in e for e in result.errors)
    assert any("cannot SET ROLE app_owner" in e for e in result.errors)
    assert any("app_owner must hold CREATE on schema app" in e for e in result.errors)
    can = {**roles, "legacy": managed("legacy"), "app_owner": managed("app_owner")}
    schema = group(K.SCHEMA, ref(K.SCHEMA, "app"), app_owner=frozenset({"USAGE", "CREATE"}))
    fine = diff_target(TARGET, [owner_of(T1)], state(group(K.TABLE, T1, owner="legacy"), schema, roles=can),
                       traits=PG15)
    assert not fine.errors


def test_plan_warns_about_each_kind_of_object_a_managed_login_account_owns():
    owned = [group(K.TABLE, *(ref(K.TABLE, f"t{i}", "app") for i in range(5)), owner="app"),
             group(K.TYPE, ref(K.TYPE, "mood", "app"), owner="app")]
    result = diff_target(TARGET, [principal("app", login=True)],
                         state(*owned, roles={"app": managed("app", True)}, schema_owners={"app": "app"}),
                         traits=PG15)
    owning = [w for w in result.warnings if "owns" in w]
    assert len(owning) == 3
    assert any("owns 5 tables in schema app on target films (app.t0, app.t1, app.t2 and 2 more)" in w
               and "owns: {tables: [app.*]}" in w for w in owning)
    assert any("owns type app.mood" in w for w in owning)
    assert any("owns schema app" in w for w in owning)


def test_the_offline_diff_knows_every_kind_and_ownership():
    text = """version: 1
targets:
  films: {engine: postgres, database: filmdb, admin: {url_env: X}}
roles:
  - name: app_owner
    target: films
    owns: {schemas: [app], tables: [app.t1]}
accounts:
  - name: app
    target: films
    grants:
      - {privileges: [USAGE], types: ["app.*"]}
      - {privileges: [USAGE], foreign_servers: [warehouse]}
      - {privileges: [CREATE], tablespaces: [fast_ssd]}
      - {privileges: [SET], parameters: [Work_Mem]}
"""
    base = load_sources([("a.yaml", "version: 1\ntargets:\n  films: {engine: postgres, database: filmdb, "
                                    "admin: {url_env: X}}\n")])
    head = load_sources([("a.yaml", text)])
    shown = "\n".join(line for t in offline_plan(base, head).targets for s in t.steps for line in s.lines)
    for line in ('ALTER SCHEMA "app" OWNER TO "app_owner"', 'ALTER TABLE "app"."t1" OWNER TO "app_owner"',
                 'GRANT USAGE ON FOREIGN SERVER "warehouse" TO "app"', 'GRANT CREATE ON TABLESPACE "fast_ssd"',
                 'GRANT SET ON PARAMETER "work_mem" TO "app"',
                 'ALTER DEFAULT PRIVILEGES FOR ROLE "app_owner" IN SCHEMA "app" GRANT USAGE ON TYPES TO "app"'):
        assert line in shown, shown


def test_the_registry_and_the_json_schema_name_the_same_grant_keys():
    from provisioner.manifest.validation.schema import schema

    grant_keys = set(schema()["$defs"]["grant"]["properties"]) - {"privileges", "database", "expires", "except"}
    assert {branch["required"][0] for branch in schema()["$defs"]["grant"]["oneOf"]} == grant_keys
    assert grant_keys == {s.key for s in SPECS if s.key}
    owned_keys = set(schema()["$defs"]["owned"]["properties"]) - {"database"}
    assert owned_keys == {s.key for s in SPECS if s.ownable}
    assert set(keys_of(Family.POSTGRES)) >= {"types", "languages", "foreign_data_wrappers", "foreign_servers",
                                             "tablespaces", "parameters"}


def test_a_kind_exists_from_the_first_major_that_has_its_privileges_and_inspection_asks_only_then():
    from provisioner.engines.postgres.queries import objects_query

    assert spec(ObjectKind.PARAMETER).first_major(Family.POSTGRES) == 15
    assert spec(ObjectKind.TABLE).first_major(Family.POSTGRES) == 0  # only MAINTAIN is newer (17)
    assert spec(ObjectKind.PROXY).first_major(Family.POSTGRES) == 0  # no such kind: never asked for
    assert "'parameter'" not in objects_query(14, server_wide=True)
    assert "'parameter'" in objects_query(15, server_wide=True) and "'tablespace'" in objects_query(15, True)
    other_database = objects_query(18, server_wide=False)
    assert "'parameter'" not in other_database and "'tablespace'" not in other_database
    assert "'language'" in other_database and "'large object'" in other_database
