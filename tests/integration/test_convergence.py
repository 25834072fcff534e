"""Regression tests of the convergence issue (SPEC 6), judged by the server's own privilege checks: out-of-band
drift is gone after ONE apply and the next plan is empty. Class 3, grant options: a managed principal never keeps
a privilege WITH GRANT OPTION, whether on a named table, a `schema.*` table or a column."""

from __future__ import annotations

import contextlib

SEED = """
CREATE SCHEMA app;
CREATE TABLE app.payments (id int, amount int, note text);
CREATE TABLE app.refunds (id int);
"""
MANIFEST = """
accounts:
  - name: svc_search
    target: {target}
    grants:
      - {{privileges: [SELECT, TRUNCATE], tables: [app.payments]}}
      - {{privileges: [SELECT], tables: ["app.*"]}}
      - {{privileges: [UPDATE], columns: {{app.payments: [note]}}}}
"""
CHECKS = [
    ("has_table_privilege(%s, 'app.payments', 'TRUNCATE')", True),
    ("has_table_privilege(%s, 'app.payments', 'TRUNCATE WITH GRANT OPTION')", False),
    ("has_table_privilege(%s, 'app.refunds', 'SELECT')", True),
    ("has_table_privilege(%s, 'app.refunds', 'SELECT WITH GRANT OPTION')", False),
    ("has_column_privilege(%s, 'app.payments', 'note', 'UPDATE')", True),
    ("has_column_privilege(%s, 'app.payments', 'note', 'UPDATE WITH GRANT OPTION')", False),
    ("has_schema_privilege(%s, 'app', 'USAGE')", True),
    ("has_schema_privilege(%s, 'app', 'USAGE WITH GRANT OPTION')", False),
]


def test_grant_options_are_revoked_and_the_privileges_kept(env):
    env.sql(SEED)
    env.manifest(MANIFEST.format(target=env.target))
    env.apply()
    env.sql("GRANT TRUNCATE ON app.payments TO svc_search WITH GRANT OPTION; "
            "GRANT SELECT ON app.refunds TO svc_search WITH GRANT OPTION; "
            "GRANT UPDATE (note) ON app.payments TO svc_search WITH GRANT OPTION; "
            "GRANT USAGE ON SCHEMA app TO svc_search WITH GRANT OPTION")
    plan = env.cli("plan", "-f", "accounts.yaml", "--detailed-exitcode", expect=2).out
    assert 'REVOKE GRANT OPTION FOR TRUNCATE ON TABLE "app"."payments" FROM "svc_search"' in plan
    assert 'REVOKE GRANT OPTION FOR UPDATE ("note") ON TABLE "app"."payments" FROM "svc_search"' in plan
    env.apply()  # ONE apply
    for check, expected in CHECKS:
        assert env.sql(f"SELECT {check}", ("svc_search",)) == [(expected,)], check
    env.assert_converged()
    # The account cannot hand the privilege on any more: the server says so.
    env.sql("CREATE ROLE bystander NOLOGIN")
    password = env.secret("svc_search")["password"]
    with env.connect_as("svc_search", password) as conn, contextlib.suppress(Exception):
        conn.execute("GRANT TRUNCATE ON app.payments TO bystander")  # PostgreSQL only warns: nothing granted
    assert env.sql("SELECT has_table_privilege('bystander', 'app.payments', 'TRUNCATE')") == [(False,)]


MARIADB = """
accounts:
  - name: svc_search
    target: {target}
    grants:
      - {{privileges: [SELECT], tables: [{db}.payments]}}
      - {{privileges: [SELECT], tables: ["{db}.*"]}}
"""


def test_grant_options_are_revoked_on_mariadb(menv):
    env = menv
    env.sql("CREATE TABLE payments (id int)")
    env.manifest(MARIADB.format(target=env.target, db=env.database))
    env.apply()
    env.sql(f"GRANT SELECT ON `{env.database}`.payments TO 'svc_search'@'%' WITH GRANT OPTION;\n"
            f"GRANT SELECT ON `{env.database}`.* TO 'svc_search'@'%' WITH GRANT OPTION")
    env.cli("plan", "-f", "accounts.yaml", "--detailed-exitcode", expect=2)
    env.apply()
    grants = [row[0] for row in env.sql("SHOW GRANTS FOR 'svc_search'@'%'")]
    assert not any("WITH GRANT OPTION" in g for g in grants), grants
    assert any(f"GRANT SELECT ON `{env.database}`.`payments`" in g for g in grants), grants
    env.assert_converged()


def test_all_on_tables_means_what_the_server_has_and_never_a_perpetual_diff(env):
    """PostgreSQL 17 added MAINTAIN to ALL on tables: declared ALL, an account holds it there (and not on older
    servers, which lack it), and an out-of-band GRANT ALL changes nothing."""
    env.sql("CREATE SCHEMA app; CREATE TABLE app.payments (id int); CREATE TABLE app.refunds (id int)")
    env.manifest(f"""
accounts:
  - name: svc_all
    target: {env.target}
    grants:
      - {{privileges: [ALL], tables: [app.payments]}}
      - {{privileges: [ALL], tables: ["app.*"]}}
""")
    env.apply()
    env.assert_converged()
    env.sql("GRANT ALL ON app.payments, app.refunds TO svc_all")
    env.assert_converged()
    major = int(env.sql("SHOW server_version_num")[0][0]) // 10000
    for table in ("app.payments", "app.refunds"):
        assert env.sql("SELECT has_table_privilege('svc_all', %s, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, "
                       "REFERENCES, TRIGGER')", (table,)) == [(True,)]
        if major >= 17:
            assert env.sql("SELECT has_table_privilege('svc_all', %s, 'MAINTAIN')", (table,)) == [(True,)]
    env.sql("CREATE TABLE app.later (id int)")  # default privileges: ALL reaches future tables too
    if major >= 17:
        assert env.sql("SELECT has_table_privilege('svc_all', 'app.later', 'MAINTAIN')") == [(True,)]
    assert env.sql("SELECT has_table_privilege('svc_all', 'app.later', 'TRUNCATE')") == [(True,)]


# ---------------------------------------------------------------- class 1: column privileges and table-level revokes

COLUMNS = """
accounts:
  - name: svc_columns
    target: {target}
    grants:
      - {{privileges: [SELECT], columns: {{app.orders: [created_at, label]}}}}
      - {{privileges: [UPDATE], columns: {{app.orders: [label]}}}}
"""


def test_declared_columns_survive_the_revoke_of_an_out_of_band_table_grant(env):
    env.sql("CREATE SCHEMA app; CREATE TABLE app.orders (id int, created_at timestamptz, label text, secret text)")
    env.manifest(COLUMNS.format(target=env.target))
    env.apply()
    env.sql("GRANT SELECT, UPDATE ON app.orders TO svc_columns")
    env.apply()  # ONE apply: the table-level grants go, the declared columns stay
    for column, privilege, expected in [("created_at", "SELECT", True), ("label", "SELECT", True),
                                        ("label", "UPDATE", True), ("secret", "SELECT", False),
                                        ("created_at", "UPDATE", False), ("id", "SELECT", False)]:
        assert env.sql("SELECT has_column_privilege('svc_columns', 'app.orders', %s, %s)",
                       (column, privilege)) == [(expected,)], (column, privilege)
    assert env.sql("SELECT has_table_privilege('svc_columns', 'app.orders', 'SELECT')") == [(False,)]
    env.assert_converged()
    # In the same apply as the declaration (no earlier apply): the column grant is not lost either.
    env.sql("CREATE ROLE svc_new LOGIN; GRANT SELECT ON app.orders TO svc_new")
    env.manifest(COLUMNS.format(target=env.target) + COLUMNS.format(target=env.target).split("accounts:\n")[1]
                 .replace("svc_columns", "svc_new"))
    env.apply("--create-secrets")
    assert env.sql("SELECT has_column_privilege('svc_new', 'app.orders', 'label', 'SELECT')") == [(True,)]
    assert env.sql("SELECT has_table_privilege('svc_new', 'app.orders', 'SELECT')") == [(False,)]
    env.assert_converged()


MARIADB_COLUMNS = """
accounts:
  - name: svc_columns
    target: {target}
    grants:
      - {{privileges: [REFERENCES], columns: {{{db}.orders: [label, qty]}}}}
"""


def _mariadb_column_privileges(env, user: str) -> set[tuple[str, str]]:
    rows = env.sql("SELECT COLUMN_NAME, PRIVILEGE_TYPE FROM information_schema.COLUMN_PRIVILEGES "
                   "WHERE GRANTEE = %s AND TABLE_SCHEMA = %s", (f"'{user}'@'%'", env.database))
    return {(str(c), str(p)) for c, p in rows}


def test_declared_columns_survive_a_table_level_revoke_on_mariadb(menv):
    env = menv
    env.sql("CREATE TABLE orders (id int, label text, qty int)")
    env.manifest(MARIADB_COLUMNS.format(target=env.target, db=env.database))
    env.apply()
    env.sql(f"GRANT REFERENCES ON `{env.database}`.orders TO 'svc_columns'@'%'")
    env.apply()
    assert _mariadb_column_privileges(env, "svc_columns") == {("label", "REFERENCES"), ("qty", "REFERENCES")}
    tables = env.sql("SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = %s",
                     ("'svc_columns'@'%'",))
    assert tables == []
    env.assert_converged()


# ---------------------------------------------------------------- class 2: MariaDB drops need no revokes


def test_mariadb_account_with_table_and_column_privileges_is_dropped_and_revoked(menv):
    env = menv
    env.sql("CREATE TABLE members (id int, qty int)")
    env.manifest(f"""
accounts:
  - name: svc_gone
    target: {env.target}
    grants:
      - {{privileges: [SELECT], tables: [{env.database}.members]}}
  - name: svc_kept
    target: {env.target}
    grants:
      - {{privileges: [SELECT], tables: [{env.database}.members]}}
""")
    env.apply()
    for user in ("svc_gone", "svc_kept"):
        env.sql(f"GRANT UPDATE ON `{env.database}`.members TO '{user}'@'%'")
        env.sql(f"GRANT UPDATE (qty) ON `{env.database}`.members TO '{user}'@'%'")
    env.manifest(f"""
accounts:
  - name: svc_gone
    target: {env.target}
    state: absent
  - name: svc_kept
    target: {env.target}
    grants:
      - {{privileges: [SELECT], tables: [{env.database}.members]}}
""")
    env.apply()  # the table-level revoke takes the column privilege with it: no failing column revoke
    assert not env.role_exists("svc_gone")
    assert _mariadb_column_privileges(env, "svc_kept") == set()
    grants = [row[0] for row in env.sql("SHOW GRANTS FOR 'svc_kept'@'%'")]
    assert not any("UPDATE" in g for g in grants), grants
    env.assert_converged()


# ---------------------------------------------------------------- class 4: grants by another grantor

GRANTOR_SEED = """
CREATE SCHEMA ref;
CREATE TABLE ref.rentals (id int);
CREATE TABLE ref.films (id int);
CREATE ROLE legacy_etl NOLOGIN;
GRANT USAGE ON SCHEMA ref TO legacy_etl;
GRANT SELECT ON ref.rentals, ref.films TO legacy_etl WITH GRANT OPTION;
"""
GRANTOR_MANIFEST = """
accounts:
  - name: ml_features
    target: {target}
    grants:
      - {{privileges: [SELECT], tables: [ref.films]}}
  - name: ml_pair
    target: {target}
    rotation: {{strategy: {strategy}}}
    grants:
      - {{privileges: [SELECT], tables: [ref.films]}}
"""


def _grants_by(env, grantor: str) -> list[tuple[str, str]]:
    return [tuple(r) for r in env.sql(
        "SELECT c.relname, pg_get_userbyid(x.grantee) FROM pg_class c, aclexplode(c.relacl) x "
        "WHERE c.relnamespace = 'ref'::regnamespace AND x.grantor = %s::regrole", (grantor,))]


def test_grants_by_another_grantor_are_revoked_in_its_name_and_drops_succeed(env):
    env.sql(GRANTOR_SEED)
    env.manifest(GRANTOR_MANIFEST.format(target=env.target, strategy="alternating"), admin_secret=True)
    env.apply()
    env.sql("SET ROLE legacy_etl; GRANT SELECT ON ref.rentals, ref.films TO ml_features; "
            "GRANT SELECT ON ref.rentals TO ml_pair_clone; RESET ROLE")
    env.apply()  # ONE apply
    assert env.sql("SELECT has_table_privilege('ml_features', 'ref.rentals', 'SELECT')") == [(False,)]
    assert env.sql("SELECT has_table_privilege('ml_features', 'ref.films', 'SELECT')") == [(True,)]
    assert _grants_by(env, "legacy_etl") == []
    env.assert_converged()
    # Drops: the clone of an alternating account that becomes single, and an account that leaves; both held
    # grants of legacy_etl when they go.
    env.sql("SET ROLE legacy_etl; GRANT SELECT ON ref.rentals TO ml_features, ml_pair_clone; RESET ROLE")
    env.manifest(GRANTOR_MANIFEST.format(target=env.target, strategy="single").replace(
        "  - name: ml_features\n", "  - name: ml_features\n    state: absent\n"), admin_secret=True)
    env.apply()
    assert not env.role_exists("ml_features") and not env.role_exists("ml_pair_clone")
    assert env.sql("SELECT has_table_privilege('legacy_etl', 'ref.rentals', 'SELECT WITH GRANT OPTION')") == [(True,)]
    env.assert_converged()


# ---------------------------------------------------------------- class 5: default privileges for every creator


def test_schema_wildcard_reaches_objects_of_every_role_that_can_create_there(env):
    env.sql(f"""
        CREATE ROLE migrator NOLOGIN; CREATE ROLE db_owner NOLOGIN;
        ALTER DATABASE "{env.database}" OWNER TO db_owner;
        ALTER SCHEMA public OWNER TO pg_database_owner;
        GRANT CREATE, USAGE ON SCHEMA public TO migrator;
        CREATE TABLE public.existing (id int);
        ALTER DEFAULT PRIVILEGES FOR ROLE migrator REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
    """)
    env.manifest(f"""
accounts:
  - name: svc_reader
    target: {env.target}
    grants:
      - {{privileges: [SELECT], tables: ["public.*"]}}
      - {{privileges: [EXECUTE], functions: ["public.*"]}}
""")
    env.apply()
    env.sql("SET ROLE migrator; CREATE TABLE public.by_migrator (id int); "
            "CREATE FUNCTION public.f_migrator() RETURNS int LANGUAGE sql AS 'SELECT 1'; RESET ROLE; "
            "SET ROLE db_owner; CREATE TABLE public.by_owner (id int); RESET ROLE")
    for table in ("public.existing", "public.by_migrator", "public.by_owner"):
        assert env.sql("SELECT has_table_privilege('svc_reader', %s, 'SELECT')", (table,)) == [(True,)], table
    assert env.sql("SELECT has_function_privilege('svc_reader', 'public.f_migrator()', 'EXECUTE')") == [(True,)]
    env.assert_converged()  # no "+ GRANT ... ON ALL TABLES IN SCHEMA" after the migration
