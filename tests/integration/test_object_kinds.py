"""Every privilege the servers can grant, and ownership (SPEC 9), judged by the server: what an adversary grants a
managed account on any kind of object is gone after one apply (`has_*_privilege`, pg_largeobject_metadata,
pg_default_acl, mysql.proxies_priv); what the file declares on each kind is held; `owns:` transfers ownership and
the old owner keeps exactly what the file grants it; import writes the new keys and `owns:`."""

from __future__ import annotations

import yaml

ADVERSARY = """
accounts:
  - name: victim
    grants:
      - {privileges: [SELECT], tables: [app.t]}
"""


def _major(env) -> int:
    return int(env.sql("SHOW server_version_num")[0][0]) // 10000


def _universe(env) -> int:
    """A schema with a table, an enum, a domain and a composite type, a foreign data wrapper with a server, and
    a large object; returns the large object's oid."""
    env.sql("CREATE SCHEMA app; CREATE TABLE app.t (id int); CREATE TABLE app.mine (id int); "
            "CREATE TYPE app.mood AS ENUM ('ok'); CREATE DOMAIN app.pos AS int CHECK (VALUE > 0); "
            "CREATE TYPE app.pair AS (a int, b int); CREATE SCHEMA spare; "
            "CREATE FOREIGN DATA WRAPPER fdw_x; CREATE SERVER srv_x FOREIGN DATA WRAPPER fdw_x")
    return int(env.sql("SELECT lo_create(0)")[0][0])


def _entries(body: str, env) -> str:
    return body.replace("- name:", f"- target: {env.target}\n    name:")


def test_what_an_adversary_grants_on_any_kind_is_revoked_in_one_apply(env, pg_tablespace):
    major = _major(env)
    oid = _universe(env)
    env.manifest(_entries(ADVERSARY, env))
    env.apply()
    attacks = ["GRANT USAGE ON TYPE app.mood TO victim", "GRANT USAGE ON DOMAIN app.pos TO victim",
               "GRANT USAGE ON FOREIGN DATA WRAPPER fdw_x TO victim", "GRANT USAGE ON FOREIGN SERVER srv_x TO victim",
               f"GRANT CREATE ON TABLESPACE {pg_tablespace} TO victim",
               f"GRANT SELECT, UPDATE ON LARGE OBJECT {oid} TO victim",
               "ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO victim",
               "ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT USAGE ON TYPES TO victim",
               "ALTER DEFAULT PRIVILEGES GRANT USAGE, CREATE ON SCHEMAS TO victim",
               "ALTER TABLE app.mine OWNER TO victim", "ALTER SCHEMA spare OWNER TO victim"]
    if major >= 15:
        attacks.append("GRANT SET, ALTER SYSTEM ON PARAMETER work_mem TO victim")
    if major >= 18:
        attacks.append("ALTER DEFAULT PRIVILEGES GRANT SELECT, UPDATE ON LARGE OBJECTS TO victim")
    # Types and domains are usable by PUBLIC unless revoked: take it away, so the check sees victim's own grant
    env.sql("REVOKE USAGE ON TYPE app.mood FROM PUBLIC; REVOKE USAGE ON DOMAIN app.pos FROM PUBLIC; "
            + "; ".join(attacks))
    plan = env.cli("plan", "-f", "accounts.yaml").out
    for revoke in ('REVOKE USAGE ON TYPE "app"."mood", "app"."pos" FROM "victim"',
                   'REVOKE USAGE ON FOREIGN DATA WRAPPER "fdw_x" FROM "victim"',
                   'REVOKE USAGE ON FOREIGN SERVER "srv_x" FROM "victim"',
                   f'REVOKE CREATE ON TABLESPACE "{pg_tablespace}" FROM "victim"',
                   f'REVOKE SELECT, UPDATE ON LARGE OBJECT {oid} FROM "victim"',
                   'REVOKE USAGE ON TYPES FROM "victim"', 'REVOKE CREATE, USAGE ON SCHEMAS FROM "victim"'):
        assert revoke in plan, plan
    assert "login account victim owns table app.mine" in plan and "login account victim owns schema spare" in plan, plan
    env.apply()
    checks = ["has_type_privilege('victim', 'app.mood', 'USAGE')", "has_type_privilege('victim', 'app.pos', 'USAGE')",
              "has_foreign_data_wrapper_privilege('victim', 'fdw_x', 'USAGE')",
              "has_server_privilege('victim', 'srv_x', 'USAGE')",
              f"has_tablespace_privilege('victim', '{pg_tablespace}', 'CREATE')"]
    if major >= 15:
        checks += ["has_parameter_privilege('victim', 'work_mem', 'SET')",
                   "has_parameter_privilege('victim', 'work_mem', 'ALTER SYSTEM')"]
    for check in checks:
        assert env.sql(f"SELECT {check}") == [(False,)], check
    assert env.sql("SELECT count(*) FROM pg_largeobject_metadata, aclexplode(lomacl) x "
                   "WHERE x.grantee = 'victim'::regrole") == [(0,)]
    assert env.sql("SELECT count(*) FROM pg_default_acl, aclexplode(defaclacl) x "
                   "WHERE x.grantee = 'victim'::regrole") == [(0,)]
    assert env.sql("SELECT has_table_privilege('victim', 'app.t', 'SELECT')") == [(True,)]
    assert env.logs_in("victim")
    env.assert_converged()  # what it owns is warned about, not changed: the file declares no owner for it


KINDS = """
accounts:
  - name: user1
    grants:
      - {{privileges: [USAGE], types: ["app.*"]}}
      - {{privileges: [USAGE], languages: [plpgsql]}}
      - {{privileges: [USAGE], foreign_data_wrappers: [fdw_x]}}
      - {{privileges: [USAGE], foreign_servers: [srv_x]}}
      - {{privileges: [CREATE], tablespaces: [{tablespace}]}}
"""


def test_each_kind_the_file_declares_is_held_and_types_reach_later_types(env, pg_tablespace):
    major = _major(env)
    _universe(env)
    env.sql("REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC; REVOKE USAGE ON TYPE app.mood, app.pos, app.pair FROM "
            "PUBLIC; ALTER DEFAULT PRIVILEGES IN SCHEMA app REVOKE USAGE ON TYPES FROM PUBLIC; "
            "ALTER DEFAULT PRIVILEGES REVOKE USAGE ON TYPES FROM PUBLIC")
    body = KINDS.format(tablespace=pg_tablespace)
    if major >= 15:
        body += "      - {privileges: [SET], parameters: [Work_Mem]}\n"
    env.manifest(_entries(body, env))
    env.apply()
    checks = ["has_type_privilege('user1', 'app.mood', 'USAGE')", "has_type_privilege('user1', 'app.pos', 'USAGE')",
              "has_type_privilege('user1', 'app.pair', 'USAGE')",
              "has_language_privilege('user1', 'plpgsql', 'USAGE')",
              "has_foreign_data_wrapper_privilege('user1', 'fdw_x', 'USAGE')",
              "has_server_privilege('user1', 'srv_x', 'USAGE')",
              f"has_tablespace_privilege('user1', '{pg_tablespace}', 'CREATE')",
              "has_schema_privilege('user1', 'app', 'USAGE')",  # implied by the types
              f"has_database_privilege('user1', '{env.database}', 'CONNECT')"]
    if major >= 15:
        checks.append("has_parameter_privilege('user1', 'work_mem', 'SET')")
    for check in checks:
        assert env.sql(f"SELECT {check}") == [(True,)], check
    assert env.sql("SELECT has_type_privilege('public', 'app.mood', 'USAGE')") == [(False,)]
    env.sql("CREATE TYPE app.later AS ENUM ('x')")  # by the schema's owner, after the apply
    assert env.sql("SELECT has_type_privilege('user1', 'app.later', 'USAGE')") == [(True,)]
    assert env.sql("SELECT has_type_privilege('public', 'app.later', 'USAGE')") == [(False,)]
    env.assert_converged()


def test_parameters_before_15_and_untrusted_languages_are_plan_errors(env):
    major = _major(env)
    body = ("accounts:\n  - name: user1\n    grants:\n      - {privileges: [USAGE], languages: [c]}\n"
            "      - {privileges: [SET], parameters: [work_mem]}\n")
    env.manifest(_entries(body, env))
    result = env.cli("plan", "-f", "accounts.yaml", expect=1)
    assert "user1: language c is not trusted" in result.text
    if major < 15:
        assert f"SET on a parameter needs PostgreSQL 15 or later (this server runs PostgreSQL {major})" in result.text
    else:
        assert "parameter" not in result.text.split("error:")[-1]


OWNED = """
roles:
  - name: app_owner
    owns: {{schemas: [app], tables: ["app.*"], sequences: [app.ids], functions: ["app.*"]}}
accounts:
  - name: legacy
    grants:
      - {{privileges: [SELECT, INSERT], tables: ["app.*"]}}
      - {{privileges: [USAGE], sequences: [app.ids]}}
      - {{privileges: [EXECUTE], functions: ["app.*"]}}
"""


def test_owns_transfers_ownership_and_the_old_owner_keeps_exactly_what_the_file_grants(env):
    env.sql("CREATE ROLE legacy LOGIN; CREATE SCHEMA app AUTHORIZATION legacy; SET ROLE legacy; "
            "CREATE TABLE app.t (id int); CREATE VIEW app.v AS SELECT 1 AS x; CREATE SEQUENCE app.ids; "
            "CREATE FUNCTION app.f(integer) RETURNS int LANGUAGE sql AS 'SELECT 1'; RESET ROLE")
    env.manifest(_entries(OWNED.format(), env))
    plan = env.cli("plan", "-f", "accounts.yaml").out
    for line in ('ALTER SCHEMA "app" OWNER TO "app_owner"', 'ALTER TABLE "app"."t" OWNER TO "app_owner"',
                 'ALTER TABLE "app"."v" OWNER TO "app_owner"', 'ALTER SEQUENCE "app"."ids" OWNER TO "app_owner"',
                 'ALTER ROUTINE "app"."f"(integer) OWNER TO "app_owner"'):
        assert line in plan, plan
    env.apply()
    owners = env.sql("SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON "
                     "n.oid = c.relnamespace WHERE n.nspname = 'app' ORDER BY 1")
    assert owners == [("ids", "app_owner"), ("t", "app_owner"), ("v", "app_owner")]
    assert env.sql("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'app'") == [("app_owner",)]
    assert env.sql("SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'f'") == [("app_owner",)]
    # legacy owned everything; now it holds what the file grants it and nothing more
    held = {"has_table_privilege('legacy', 'app.t', 'SELECT')": True,
            "has_table_privilege('legacy', 'app.t', 'INSERT')": True,
            "has_table_privilege('legacy', 'app.t', 'DELETE')": False,
            "has_table_privilege('legacy', 'app.t', 'TRUNCATE')": False,
            "has_sequence_privilege('legacy', 'app.ids', 'USAGE')": True,
            "has_sequence_privilege('legacy', 'app.ids', 'UPDATE')": False,
            "has_function_privilege('legacy', 'app.f(integer)', 'EXECUTE')": True,
            "has_schema_privilege('legacy', 'app', 'CREATE')": False,
            "has_schema_privilege('legacy', 'app', 'USAGE')": True}
    for check, want in held.items():
        assert env.sql(f"SELECT {check}") == [(want,)], check
    env.assert_converged()
    # drift: ownership handed back out of band; one apply takes it back, the plan is empty again
    env.sql("ALTER TABLE app.t OWNER TO legacy")
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert 'ALTER TABLE "app"."t" OWNER TO "app_owner"' in plan
    assert "login account legacy owns" not in plan  # the file declares its owner: a transfer, not a warning
    env.apply()
    assert env.sql("SELECT has_table_privilege('legacy', 'app.t', 'DELETE')") == [(False,)]
    env.assert_converged()
    # retiring the owner still works: its objects go to the heir
    env.sql("CREATE ROLE heir NOLOGIN")
    retired = OWNED.format().replace("    owns: {schemas: [app], tables: [\"app.*\"], sequences: [app.ids], "
                                     "functions: [\"app.*\"]}",
                                     "    state: absent\n    retire: {reassign_owned_to: heir}")
    env.manifest(_entries(retired, env))
    env.apply()
    assert not env.role_exists("app_owner")
    assert env.sql("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'app'") == [("heir",)]


def test_import_writes_the_new_kinds_and_the_schemas_a_role_owns_and_the_round_trip_is_empty(env, pg_tablespace):
    _universe(env)
    env.sql(f"CREATE ROLE keeper NOLOGIN; ALTER SCHEMA spare OWNER TO keeper; CREATE ROLE reader LOGIN; "
            f"GRANT USAGE ON SCHEMA app TO reader; GRANT USAGE ON TYPE app.mood TO reader; "
            f"GRANT USAGE ON FOREIGN SERVER srv_x TO reader; GRANT CREATE ON TABLESPACE {pg_tablespace} TO reader; "
            f"GRANT CONNECT ON DATABASE \"{env.database}\" TO reader")
    env.manifest("")
    imported = env.cli("import", "-f", "accounts.yaml", "--target", env.target, "--adopt").out
    document = yaml.safe_load(imported)
    keeper = next(r for r in document["roles"] if r["name"] == "keeper")
    assert keeper["owns"] == {"schemas": ["spare"]}
    reader = next(a for a in document["accounts"] if a["name"] == "reader")
    keys = {key for grant in reader["grants"] for key in grant if key not in ("privileges", "database")}
    assert {"types", "foreign_servers", "tablespaces"} <= keys, reader["grants"]
    (env.tmp / "manifests").mkdir()
    (env.tmp / "manifests" / "00-targets.yaml").write_text((env.tmp / "accounts.yaml").read_text())
    (env.tmp / "manifests" / "imported.yaml").write_text(imported)
    plan = env.cli("plan", "-f", "manifests", "--detailed-exitcode")
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in plan.out


MARIA = """
accounts:
  - name: app
    grants:
      - {privileges: [SELECT], tables: ["{db}.*"]}
"""


def test_proxy_granted_out_of_band_on_mariadb_is_revoked_and_import_says_so(menv):
    menv.manifest(_entries(MARIA.replace("{db}", menv.database), menv))
    menv.apply()
    # PROXY on the admin's own account (which it may grant): `app` could then log in as the admin
    [(admin,)] = menv.sql("SELECT CURRENT_USER()")
    user, host = str(admin).rsplit("@", 1)
    menv.sql("GRANT PROXY ON %s@%s TO 'app'@'%%'", (user, host))
    assert menv.sql("SELECT count(*) FROM mysql.proxies_priv WHERE User = 'app'") == [(1,)]
    imported = menv.cli("import", "-f", "accounts.yaml", "--target", menv.target).out
    assert f"app holds proxy privileges on '{user}'@'{host}'" in imported
    plan = menv.cli("plan", "-f", "accounts.yaml").out
    assert f"REVOKE PROXY ON '{user}'@'{host}' FROM 'app'@'%'" in plan
    menv.apply()
    assert menv.sql("SELECT count(*) FROM mysql.proxies_priv WHERE User = 'app'") == [(0,)]
    assert menv.logs_in("app")
    menv.assert_converged()
