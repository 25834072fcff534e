"""Every change type compiled for PostgreSQL, pinned exactly (the text psycopg.sql composes, identifiers quoted by the
driver), and the changes PostgreSQL has no statement for refused."""

from __future__ import annotations

import pytest

from provisioner.core import changes as c
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import ObjectRef
from provisioner.engines.postgres import compiler
from provisioner.engines.postgres.kinds import PG_KINDS

BASE = {"target": "films", "principal": "app"}
TABLE, SEQUENCE, FUNCTION, COLUMN = ObjectKind.TABLE, ObjectKind.SEQUENCE, ObjectKind.FUNCTION, ObjectKind.COLUMN
FILMS = ObjectRef(TABLE, "public", "films")
VERIFIER = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy"


def shown(change: c.AnyChange, verifier: str | None = None) -> list[str]:
    return [s.display for s in compiler.statements(change, verifier)]


def sent(change: c.AnyChange, verifier: str) -> list[str]:
    return [s.query.as_string(None) for s in compiler.statements(change, verifier)]


CASES = [
    (c.CreateRole(action="+", name="app", login=True, connection_limit=5, comment="the app [managed]",
                  secret="films/app", attributes=("CREATEDB",), session_role="app_group", **BASE),
     ['CREATE ROLE "app" LOGIN CREATEDB PASSWORD \'<SCRAM-SHA-256 verifier of the secret>\' CONNECTION LIMIT 5',
      'COMMENT ON ROLE "app" IS \'the app [managed]\'', 'ALTER ROLE "app" SET role = \'app_group\'']),
    (c.CreateRole(action="+", name="readers", login=False, connection_limit=None, comment="", **BASE),
     ['CREATE ROLE "readers" NOLOGIN', 'COMMENT ON ROLE "readers" IS \'\'']),
    (c.AlterRole(action="~", name="app", was=c.Login(True), to=c.Login(False), **BASE), ['ALTER ROLE "app" NOLOGIN']),
    (c.AlterRole(action="~", name="app", was=c.ConnectionLimit(5), to=c.ConnectionLimit(None), **BASE),
     ['ALTER ROLE "app" CONNECTION LIMIT  -1']),  # psycopg spaces a negative literal (never `--`)
    (c.AlterRole(action="~", name="app", was=c.Attributes(("CREATEDB", "NOINHERIT")),
                 to=c.Attributes(("BYPASSRLS",)), **BASE), ['ALTER ROLE "app" BYPASSRLS NOCREATEDB INHERIT']),
    (c.AlterRole(action="~", name="app", was=c.Comment("old"), to=c.Comment("it's new"), **BASE),
     ['COMMENT ON ROLE "app" IS \'it\'\'s new\'']),
    (c.AlterRole(action="~", name="app", was=c.SessionRole("g"), to=c.SessionRole(None), **BASE),
     ['ALTER ROLE "app" RESET role']),
    (c.AlterRole(action="~", name="app", was=c.Settings((("", "work_mem", "4MB"), ("db2", "search_path", "x"))),
                 to=c.Settings((("", "work_mem", "64MB"), ("", "search_path", 'app, "$user"'))), **BASE),
     ['ALTER ROLE "app" SET "search_path" = \'app\', \'$user\'', 'ALTER ROLE "app" SET "work_mem" = \'64MB\'',
      'ALTER ROLE "app" IN DATABASE "db2" RESET "search_path"']),
    (c.AlterRole(action="~", name="app", was=c.Authentication("password"), to=c.Authentication("iam"), **BASE),
     ['ALTER ROLE "app" PASSWORD NULL']),
    (c.DropRole(action="-", name="app", **BASE), ['DROP ROLE "app"']),
    (c.DropOwned(action="-", name="app", **BASE), ['DROP OWNED BY "app"']),
    (c.ReassignOwned(action="-", name="app", to="owner", **BASE), ['REASSIGN OWNED BY "app" TO "owner"']),
    (c.TerminateSessions(action="-", name="app", **BASE),
     ["SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'app' AND pid <> "
      "pg_backend_pid()"]),
    (c.SetPassword(action="~", name="app", secret="films/app", reason="r", **BASE),
     ['ALTER ROLE "app" PASSWORD \'<SCRAM-SHA-256 verifier of the secret>\'']),
    (c.ResetPassword(action="~", name="app", secret="films/app", **BASE),
     ['ALTER ROLE "app" PASSWORD \'<SCRAM-SHA-256 verifier of the secret>\'']),
    (c.FinishPendingPassword(action="~", name="app", secret="films/app", version="v1", **BASE),
     ['ALTER ROLE "app" PASSWORD \'<SCRAM-SHA-256 verifier of the secret>\'']),
    (c.GrantMembership(action="+", role="readers", member="app", **BASE), ['GRANT "readers" TO "app"']),
    (c.GrantMembership(action="+", role="ops", member="app", options=(("admin", True), ("inherit", False)), **BASE),
     ['GRANT "ops" TO "app" WITH ADMIN OPTION', 'GRANT "ops" TO "app" WITH INHERIT FALSE']),
    (c.AlterMembership(action="~", role="ops", member="app", old=(("admin", True), ("set", True)),
                       new=(("admin", False), ("set", False)), **BASE),
     ['REVOKE ADMIN OPTION FOR "ops" FROM "app"', 'GRANT "ops" TO "app" WITH SET FALSE']),
    (c.RevokeMembership(action="-", role="readers", member="app", **BASE), ['REVOKE "readers" FROM "app"']),
    (c.GrantPrivileges(action="+", grantee="app", kind=TABLE, schema="public", objects=(FILMS,),
                       privileges=("INSERT", "SELECT"), also=(("b", "%"),), **BASE),
     ['GRANT INSERT, SELECT ON TABLE "public"."films" TO "app", "b"']),
    (c.GrantPrivileges(action="+", grantee="app", kind=SEQUENCE, schema="app", objects=(), all_in_schema=True,
                       privileges=("USAGE",), **BASE), ['GRANT USAGE ON ALL SEQUENCES IN SCHEMA "app" TO "app"']),
    (c.RevokePrivileges(action="-", grantee="PUBLIC", kind=ObjectKind.DATABASE, schema="",
                        objects=(ObjectRef(ObjectKind.DATABASE, "", "filmdb"),), privileges=("CONNECT",), **BASE),
     ['REVOKE CONNECT ON DATABASE "filmdb" FROM PUBLIC']),
    (c.RevokePrivileges(action="-", grantee="app", kind=TABLE, schema="public", objects=(FILMS,),
                        privileges=("SELECT",), grantor="owner2", **BASE),
     ['SET ROLE "owner2"', 'REVOKE SELECT ON TABLE "public"."films" FROM "app"', "RESET ROLE"]),
    (c.RestoreColumnPrivileges(action="+", grantee="app", kind=COLUMN, schema="public",
                               objects=(ObjectRef(COLUMN, "public", "films", "id"),
                                        ObjectRef(COLUMN, "public", "films", "title")),
                               privileges=("SELECT",), **BASE),
     ['GRANT SELECT ("id", "title") ON TABLE "public"."films" TO "app"']),
    (c.RevokeGrantOption(action="-", grantee="app", kind=FUNCTION, schema="public",
                         objects=(ObjectRef(FUNCTION, "public", 'f(integer, "t)")'),), privileges=("EXECUTE",),
                         **BASE),
     ['REVOKE GRANT OPTION FOR EXECUTE ON ROUTINE "public"."f"(integer, "t)") FROM "app"']),
    (c.GrantDefaultPrivileges(action="+", owner="owner", schema="app", kind=TABLE, grantee="app",
                              privileges=("SELECT",), **BASE),
     ['ALTER DEFAULT PRIVILEGES FOR ROLE "owner" IN SCHEMA "app" GRANT SELECT ON TABLES TO "app"']),
    (c.RevokeDefaultPrivileges(action="-", owner="owner", schema="", kind=FUNCTION, grantee="PUBLIC",
                               privileges=("EXECUTE",), **BASE),
     ['ALTER DEFAULT PRIVILEGES FOR ROLE "owner" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC']),
    (c.AlterOwner(action="~", kind=ObjectKind.SCHEMA, obj=ObjectRef(ObjectKind.SCHEMA, "", "billing"),
                  owner="billing_owner", was="app", **BASE), ['ALTER SCHEMA "billing" OWNER TO "billing_owner"']),
    (c.AlterOwner(action="~", kind=TABLE, obj=FILMS, owner="o", was="app", **BASE),
     ['ALTER TABLE "public"."films" OWNER TO "o"']),
    (c.AlterOwner(action="~", kind=SEQUENCE, obj=ObjectRef(SEQUENCE, "app", "ids"), owner="o", was="app", **BASE),
     ['ALTER SEQUENCE "app"."ids" OWNER TO "o"']),
    (c.AlterOwner(action="~", kind=FUNCTION, obj=ObjectRef(FUNCTION, "app", "f(integer)"), owner="o", was="app",
                  **BASE), ['ALTER ROUTINE "app"."f"(integer) OWNER TO "o"']),
]
# One grant and one revoke per object kind beyond the first six (SPEC 9): each kind's keyword and naming.
KIND_CASES = [
    (ObjectKind.TYPE, ObjectRef(ObjectKind.TYPE, "public", "mood"), ("USAGE",), 'TYPE "public"."mood"'),
    (ObjectKind.LANGUAGE, ObjectRef(ObjectKind.LANGUAGE, "", "plpgsql"), ("USAGE",), 'LANGUAGE "plpgsql"'),
    (ObjectKind.FOREIGN_DATA_WRAPPER, ObjectRef(ObjectKind.FOREIGN_DATA_WRAPPER, "", "postgres_fdw"), ("USAGE",),
     'FOREIGN DATA WRAPPER "postgres_fdw"'),
    (ObjectKind.FOREIGN_SERVER, ObjectRef(ObjectKind.FOREIGN_SERVER, "", "warehouse"), ("USAGE",),
     'FOREIGN SERVER "warehouse"'),
    (ObjectKind.TABLESPACE, ObjectRef(ObjectKind.TABLESPACE, "", "fast_ssd"), ("CREATE",), 'TABLESPACE "fast_ssd"'),
    (ObjectKind.PARAMETER, ObjectRef(ObjectKind.PARAMETER, "", "work_mem"), ("ALTER SYSTEM", "SET"),
     'PARAMETER "work_mem"'),
    (ObjectKind.PARAMETER, ObjectRef(ObjectKind.PARAMETER, "", "auto_explain.log_min_duration"), ("SET",),
     'PARAMETER "auto_explain.log_min_duration"'),
    (ObjectKind.LARGE_OBJECT, ObjectRef(ObjectKind.LARGE_OBJECT, "", "16385"), ("SELECT", "UPDATE"),
     "LARGE OBJECT 16385"),
]


@pytest.mark.parametrize("kind, ref, privileges, named", KIND_CASES, ids=[f"{k}-{i}" for i, (k, *_) in
                                                                         enumerate(KIND_CASES)])
def test_each_object_kind_is_granted_and_revoked_by_its_keyword(kind, ref, privileges, named):
    fields = {"grantee": "app", "kind": kind, "schema": ref.schema, "objects": (ref,), "privileges": privileges,
              **BASE}
    assert shown(c.GrantPrivileges(action="+", **fields)) == [f'GRANT {", ".join(privileges)} ON {named} TO "app"']
    assert shown(c.RevokePrivileges(action="-", **fields)) == [
        f'REVOKE {", ".join(privileges)} ON {named} FROM "app"']


@pytest.mark.parametrize("kind, in_schema, words", [
    (ObjectKind.TYPE, "app", 'IN SCHEMA "app" REVOKE USAGE ON TYPES'),
    (ObjectKind.SCHEMA, "", "REVOKE USAGE ON SCHEMAS"),
    (ObjectKind.LARGE_OBJECT, "", "REVOKE USAGE ON LARGE OBJECTS"),
])
def test_default_privileges_of_every_object_type(kind, in_schema, words):
    change = c.RevokeDefaultPrivileges(action="-", owner="o", schema=in_schema, kind=kind, grantee="app",
                                       privileges=("USAGE",), **BASE)
    assert shown(change) == [f'ALTER DEFAULT PRIVILEGES FOR ROLE "o" {words} FROM "app"']


def test_a_large_object_is_named_by_its_oid_only():
    ref = ObjectRef(ObjectKind.LARGE_OBJECT, "", "1; DROP TABLE x")
    with pytest.raises(ValueError, match="by its oid"):
        shown(c.RevokePrivileges(action="-", grantee="app", kind=ObjectKind.LARGE_OBJECT, schema="", objects=(ref,),
                                 privileges=("SELECT",), **BASE))


def test_kinds_without_an_owner_keyword_are_refused_for_ownership():
    ref = ObjectRef(ObjectKind.TYPE, "public", "mood")
    with pytest.raises(ValueError, match="no owner"):
        shown(c.AlterOwner(action="~", kind=ObjectKind.TYPE, obj=ref, owner="o", was="a", **BASE))


@pytest.mark.parametrize("change, expected", CASES, ids=[f"{type(ch).__name__}-{i}" for i, (ch, _) in
                                                          enumerate(CASES)])
def test_each_change_type_compiles_to_its_statements(change, expected):
    assert shown(change) == expected


def test_every_database_change_type_has_a_case_here():
    database_types = set(c.DatabaseChange.__args__) - {c.SetDefaultRoles}  # PostgreSQL members inherit
    assert database_types <= {type(change) for change, _ in CASES}


def test_a_password_is_sent_as_a_verifier_and_shown_as_a_placeholder():
    change = c.SetPassword(action="~", name="app", secret="films/app", reason="r", **BASE)
    assert sent(change, VERIFIER) == [f"ALTER ROLE \"app\" PASSWORD '{VERIFIER}'"]
    assert VERIFIER not in shown(change, VERIFIER)[0]


@pytest.mark.parametrize("change", [
    c.SetDefaultRoles(action="~", name="app", host="%", old=(), new=("r",), **BASE),
    c.CreateSecret(action="+", secret="s", fields={}, kms_key=None, description="", tags={}, **BASE),
    c.DeleteSecret(action="-", secret="s", recovery_days=7, **BASE),
])
def test_changes_without_a_postgresql_statement_are_refused(change):
    with pytest.raises(TypeError):
        compiler.statements(change)


@pytest.mark.parametrize("setting", [c.RequireTls(True), c.Settings(()), c.Authentication("password")])
def test_role_settings_postgresql_does_not_alter_this_way_are_refused(setting):
    with pytest.raises(ValueError):
        compiler.alter_role("app", setting, setting)


def test_unknown_privileges_attributes_and_argument_lists_never_reach_the_sql():
    with pytest.raises(ValueError, match="unknown privilege"):
        shown(c.GrantPrivileges(action="+", grantee="a", kind=TABLE, schema="s", objects=(FILMS,),
                                privileges=("SELECT; DROP",), **BASE))
    with pytest.raises(ValueError, match="unknown role attribute"):
        shown(c.CreateRole(action="+", name="a", login=True, connection_limit=None, comment="",
                           attributes=("SUPERUSER; x",), **BASE))
    with pytest.raises(ValueError, match="unexpected characters"):
        shown(c.GrantPrivileges(action="+", grantee="a", kind=FUNCTION, schema="s", privileges=("EXECUTE",),
                                objects=(ObjectRef(FUNCTION, "s", "f(integer); DROP TABLE x; --)"),), **BASE))
    assert compiler.safe_arguments('integer, "odd type)", text[]') and not compiler.safe_arguments('"open')


def test_every_kind_postgresql_grants_on_has_a_row_in_its_kind_table():
    from provisioner.core.kinds import Family, vocabulary_of

    assert set(vocabulary_of(Family.POSTGRES)) <= set(PG_KINDS)
