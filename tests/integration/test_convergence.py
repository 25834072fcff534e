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
