"""PUBLIC as declared state (SPEC 7): `public_privileges` revokes CONNECT/TEMPORARY, CREATE on `public` and
EXECUTE on functions (existing and future) from PUBLIC and grants it USAGE elsewhere, in one apply, judged by the
server; an account whose grants imply CONNECT gets it explicitly in that same apply and never loses it."""

from __future__ import annotations

MANIFEST = """
version: 1
targets:
  {target}:
    engine: postgres
    host: {host}
    port: {port}
    database: {db}
    admin: {{url_env: {url_env}}}
    public_privileges:
      revoke:
        - {{privileges: [CONNECT, TEMPORARY], databases: [{db}]}}
        - {{privileges: [CREATE], schemas: [public]}}
        - {{privileges: [EXECUTE], functions: ["public.*"]}}
      grants:
        - {{privileges: [USAGE], schemas: [shared]}}
accounts:
  - name: reporter
    target: {target}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
"""


def test_public_revokes_and_grants_converge_in_one_apply_and_the_account_keeps_connect(env):
    env.sql("CREATE TABLE public.films (id int); CREATE SCHEMA shared; GRANT CREATE ON SCHEMA public TO PUBLIC; "
            "CREATE FUNCTION public.total(integer) RETURNS int LANGUAGE sql AS 'SELECT 1'")
    env.manifest(MANIFEST.format(target=env.target, host=env.server.host, port=env.server.port, db=env.database,
                                 url_env=env.url_env), header=False)
    env.apply()
    plan = env.cli("plan", "-f", "accounts.yaml").out  # a first apply created reporter with CONNECT via PUBLIC
    assert "0 to add" in plan
    database = env.database
    checks = [(f"has_database_privilege('public', '{database}', 'CONNECT')", False),
              (f"has_database_privilege('public', '{database}', 'TEMPORARY')", False),
              ("has_schema_privilege('public', 'public', 'CREATE')", False),
              ("has_schema_privilege('public', 'shared', 'USAGE')", True),
              ("has_function_privilege('public', 'public.total(integer)', 'EXECUTE')", False),
              (f"has_database_privilege('reporter', '{database}', 'CONNECT')", True),
              ("has_table_privilege('reporter', 'public.films', 'SELECT')", True)]
    for check, expected in checks:
        assert env.sql(f"SELECT {check}") == [(expected,)], check
    assert env.logs_in("reporter")
    with env.connect_as("reporter", env.secret("reporter")["password"]) as conn:
        conn.execute("SELECT * FROM public.films")
    env.sql("CREATE FUNCTION public.later() RETURNS int LANGUAGE sql AS 'SELECT 2'")  # by the schema's creator
    assert env.sql("SELECT has_function_privilege('public', 'public.later()', 'EXECUTE')") == [(False,)]
    env.assert_converged()
    # out of band: PUBLIC gets CONNECT back; the next apply takes it again, reporter keeps its own
    env.sql(f'GRANT CONNECT ON DATABASE "{database}" TO PUBLIC')
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC' in plan
    env.apply()
    assert env.sql(f"SELECT has_database_privilege('reporter', '{database}', 'CONNECT')") == [(True,)]
    env.assert_converged()


def test_an_account_with_connect_through_public_gets_it_explicitly_in_the_same_apply(env):
    env.sql("CREATE TABLE public.films (id int); CREATE SCHEMA shared")
    text = MANIFEST.format(target=env.target, host=env.server.host, port=env.server.port, db=env.database,
                           url_env=env.url_env)
    without_public = text.split("    public_privileges:")[0] + "accounts:" + text.split("accounts:")[1]
    env.manifest(without_public, header=False)
    env.apply()  # reporter connects through PUBLIC's CONNECT: no explicit grant
    assert env.sql(f"SELECT count(*) FROM pg_database, aclexplode(datacl) x WHERE datname = '{env.database}' "
                   f"AND x.grantee = 'reporter'::regrole") == [(0,)]
    env.manifest(text, header=False)
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert f'GRANT CONNECT ON DATABASE "{env.database}" TO "reporter"' in plan
    env.apply()
    assert env.sql(f"SELECT has_database_privilege('reporter', '{env.database}', 'CONNECT')") == [(True,)]
    assert env.logs_in("reporter")
    env.assert_converged()
