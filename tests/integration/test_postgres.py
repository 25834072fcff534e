"""The core loop against a real PostgreSQL (scram-sha-256 on TCP) and moto's Secrets Manager server."""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path

import jsonschema
import psycopg
import pytest

from provisioner.core.binding import endpoint_of, record

SEED = """
CREATE TABLE public.films (id serial PRIMARY KEY, title text NOT NULL);
CREATE TABLE public.rentals (id serial PRIMARY KEY, film_id int);
CREATE TABLE public.customers (id int PRIMARY KEY, name text, email text);
INSERT INTO public.films (title) VALUES ('Metropolis'), ('Nosferatu');
"""

READER = """
accounts:
  - name: reader_user
    target: {target}
    description: read-only access for the reporting job
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
"""


@pytest.fixture
def seeded(env):
    """The seed tables in a hardened database: PUBLIC may neither connect nor use schema public, so the
    CONNECT and USAGE that table grants imply must really be granted."""
    env.sql(SEED)
    env.sql(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{env.database}" FROM PUBLIC; '
            "REVOKE USAGE, CREATE ON SCHEMA public FROM PUBLIC")
    return env


def test_seed_scenario_reader_can_select_not_insert_and_the_secret_logs_in(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target))
    plan = env.cli("plan", "--detailed-exitcode", expect=2)
    assert "CREATE ROLE \"reader_user\" LOGIN PASSWORD '<SCRAM-SHA-256 verifier of the secret>'" in plan.out
    assert 'GRANT SELECT ON TABLE "public"."films" TO "reader_user"' in plan.out
    assert "implied" in plan.out and 'GRANT CONNECT ON DATABASE' in plan.out
    assert "Plan: 5 to add, 0 to change, 0 to destroy." in plan.out
    env.apply()

    secret = env.secret("reader_user")
    assert secret["engine"] == "postgres" and secret["username"] == "reader_user"
    assert secret["host"] == env.server.host and secret["port"] == env.server.port
    assert secret["dbname"] == env.database and len(secret["password"]) == 32
    with env.connect_as("reader_user", secret["password"]) as conn:
        assert [r[0] for r in conn.execute("SELECT title FROM public.films ORDER BY id")] == ["Metropolis",
                                                                                              "Nosferatu"]
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as denied:
            conn.execute("INSERT INTO public.films (title) VALUES ('x')")
        assert denied.value.sqlstate == "42501"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        env.connect_as("reader_user", secret["password"] + "x")

    described = env.describe("reader_user")
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    binding = tags.pop("provisioner:binding")  # where apply put the account (SPEC 8), as digests
    assert tags == {"provisioner:managed": "true", "provisioner:target": env.target,
                    "provisioner:account": "reader_user"}
    assert binding == record(endpoint_of(secret, "reader_user"))
    assert "reader_user" in described["Description"]
    env.assert_converged()


def test_apply_twice_second_plan_is_empty(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target))
    env.apply()
    second = env.cli("apply", "--yes", "-f", "accounts.yaml")
    assert "no changes" in second.out and "Plan: 0 to add, 0 to change, 0 to destroy." in second.out
    assert env.plan_json()["has_changes"] is False


def test_undeclared_grant_is_revoked_and_unnamed_role_untouched(seeded):
    env = seeded
    env.sql("CREATE ROLE legacy_user LOGIN PASSWORD 'legacy-password-1'; "
            "GRANT SELECT, INSERT ON public.films TO legacy_user; COMMENT ON ROLE legacy_user IS 'hands off'; "
            f'GRANT CONNECT ON DATABASE "{env.database}" TO legacy_user')
    env.manifest(READER.format(target=env.target))
    env.apply()
    env.sql("GRANT INSERT, DELETE ON public.films TO reader_user; GRANT SELECT ON public.customers TO reader_user")
    plan = env.cli("plan", "--detailed-exitcode", expect=2)
    assert 'REVOKE DELETE, INSERT ON TABLE "public"."films" FROM "reader_user"' in plan.out
    assert 'REVOKE SELECT ON TABLE "public"."customers" FROM "reader_user"' in plan.out
    assert "legacy_user" not in plan.out
    env.apply()
    rows = env.sql("SELECT grantee, privilege_type FROM information_schema.role_table_grants "
                   "WHERE table_schema = 'public' AND grantee IN ('reader_user', 'legacy_user') ORDER BY 1, 2")
    assert rows == [("legacy_user", "INSERT"), ("legacy_user", "SELECT"), ("reader_user", "SELECT")]
    assert env.sql("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'legacy_user'") == [
        ("hands off",)]
    with env.connect_as("legacy_user", "legacy-password-1") as conn:
        conn.execute("SELECT 1")
    env.assert_converged()


def test_wildcards_roles_sequences_columns_functions_and_default_privileges(seeded):
    env = seeded
    env.sql("""
        CREATE ROLE app_owner NOLOGIN;
        CREATE SCHEMA catalog AUTHORIZATION app_owner;
        SET ROLE app_owner;
        CREATE TABLE catalog.genres (id int, name text);
        RESET ROLE;
        CREATE FUNCTION public.rental_count(film integer) RETURNS bigint LANGUAGE sql
          AS 'SELECT count(*) FROM public.rentals WHERE film_id = film';
    """)
    env.manifest(f"""
        roles:
          - name: catalog_read
            target: {env.target}
            grants:
              - {{privileges: [SELECT], tables: ["catalog.*"]}}
        accounts:
          - name: films_app
            target: {env.target}
            member_of: [catalog_read]
            connection_limit: 5
            grants:
              - {{privileges: [SELECT, INSERT, UPDATE, DELETE], tables: [public.films, public.rentals]}}
              - {{privileges: [USAGE, SELECT], sequences: [public.films_id_seq, public.rentals_id_seq]}}
              - {{privileges: [SELECT], columns: {{public.customers: [id, name]}}}}
              - {{privileges: [EXECUTE], functions: ["public.rental_count(integer)"]}}
        """)
    env.apply()
    password = env.secret("films_app")["password"]
    # a table created later by the schema owner is readable through the role's default privileges
    env.sql("SET ROLE app_owner; CREATE TABLE catalog.studios (id int); INSERT INTO catalog.studios VALUES (1)")
    env.sql("INSERT INTO public.customers VALUES (1, 'Ada', 'ada@example.com')")
    with env.connect_as("films_app", password) as conn:
        conn.execute("INSERT INTO public.films (title) VALUES ('Sunrise')")
        conn.execute("INSERT INTO public.rentals (film_id) VALUES (1)")
        assert conn.execute("SELECT public.rental_count(1)").fetchone() == (1,)
        assert conn.execute("SELECT id, name FROM public.customers").fetchall() == [(1, "Ada")]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT email FROM public.customers")
        assert conn.execute("SELECT count(*) FROM catalog.genres").fetchone() == (0,)
        assert conn.execute("SELECT id FROM catalog.studios").fetchall() == [(1,)]
    assert env.sql("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'films_app'") == [(5,)]
    env.assert_converged()


def test_removed_account_is_dropped_and_its_secret_scheduled_for_deletion(seeded):
    env = seeded
    env.sql("CREATE ROLE adopted_user LOGIN")
    env.manifest(READER.format(target=env.target) + f"""
  - name: adopted_user
    target: {env.target}
  - name: temp_user
    target: {env.target}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
""")
    env.apply()
    env.manifest(READER.format(target=env.target))
    plan = env.cli("plan", "--detailed-exitcode", expect=2)
    assert 'DROP ROLE "temp_user"' in plan.out
    assert f"secret {env.target}/temp_user: schedule deletion (recovery window 7 days)" in plan.out
    assert "adopted_user left the manifest" in plan.out and 'DROP ROLE "adopted_user"' not in plan.out
    env.apply()
    roles = {r[0] for r in env.sql("SELECT rolname FROM pg_roles")}
    assert "temp_user" not in roles and "adopted_user" in roles and "reader_user" in roles
    assert "DeletedDate" in env.describe("temp_user")
    env.assert_converged()


def test_account_that_owns_objects_is_not_dropped_and_the_error_says_what_to_do(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target) + f"""
  - name: owner_user
    target: {env.target}
""")
    env.apply()
    env.sql("CREATE TABLE public.owned (id int); ALTER TABLE public.owned OWNER TO owner_user")
    env.manifest(READER.format(target=env.target))
    result = env.cli("plan", expect=1)
    assert "owner_user cannot be dropped: it owns 1 object(s) in database" in result.out
    assert "(e.g. table public.owned)" in result.out and "retire: {reassign_owned_to: ROLE}" in result.out
    assert "REASSIGN OWNED BY owner_user" in result.out
    failed = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=1)
    assert "apply refused" in failed.err


def test_missing_secret_of_an_existing_account_is_recreated_and_logs_in(seeded, aws):
    import boto3

    env = seeded
    env.manifest(READER.format(target=env.target))
    env.apply()
    boto3.client("secretsmanager").delete_secret(SecretId=f"{env.target}/reader_user",
                                                 ForceDeleteWithoutRecovery=True)
    plan = env.cli("plan")
    assert "exists without a secret" in plan.out and "PASSWORD" in plan.out
    env.apply()
    assert env.logs_in("reader_user")
    env.assert_converged()


def test_reset_password_promotes_the_new_password_and_the_old_stops_working(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target))
    env.apply()
    old = env.secret("reader_user")["password"]
    env.apply("--reset-password", "reader_user")
    new = env.secret("reader_user")["password"]
    assert new != old and env.secret("reader_user", "AWSPREVIOUS")["password"] == old
    assert env.logs_in("reader_user")
    with pytest.raises(psycopg.OperationalError):
        env.connect_as("reader_user", old)
    env.assert_converged()


def test_crash_after_writing_the_secret_converges_on_rerun(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target))
    killed = env.cli_process("apply", "--yes", env={"PROVISIONER_FAULT": "after-secret-write"}, expect=None)
    assert killed.code == -9
    assert env.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'reader_user'") == [(0,)]
    tags = {t["Key"]: t["Value"] for t in env.describe("reader_user")["Tags"]}
    assert tags["provisioner:sync"] == "pending"
    env.apply()
    assert env.logs_in("reader_user")
    assert "provisioner:sync" not in {t["Key"] for t in env.describe("reader_user")["Tags"]}
    env.assert_converged()


def test_crash_after_commit_before_secret_follow_up_converges(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target))
    killed = env.cli_process("apply", "--yes", env={"PROVISIONER_FAULT": "after-commit"}, expect=None)
    assert killed.code == -9
    assert env.logs_in("reader_user")  # the AWSCURRENT secret already logs in
    plan = env.cli("plan")
    assert "confirm the password an interrupted apply wrote" in plan.out
    env.apply()
    env.assert_converged()


def test_crash_between_statements_rolls_back_the_database_and_rerun_converges(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target) + f"""
  - name: second_user
    target: {env.target}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
""")
    killed = env.cli_process("apply", "--yes", env={"PROVISIONER_FAULT": "between-statements:3"}, expect=None)
    assert killed.code == -9
    assert env.sql("SELECT count(*) FROM pg_roles WHERE rolname IN ('reader_user', 'second_user')") == [(0,)]
    env.apply()
    assert env.logs_in("reader_user") and env.logs_in("second_user")
    env.assert_converged()


def test_catalog_queries_do_not_grow_with_accounts_or_tables(seeded):
    env = seeded

    def manifest(count: int) -> None:
        body = "accounts:\n" + "".join(
            f"  - {{name: acct_{i}, target: {env.target}, grants: [{{privileges: [SELECT], "
            f"tables: [public.films]}}]}}\n" for i in range(count))
        env.manifest(body)

    manifest(10)
    small = env.plan_json()["targets"][0]["catalog_queries"]
    env.sql("""DO $$ BEGIN
        FOR i IN 1..1000 LOOP
          EXECUTE format('CREATE TABLE public.t%s (id int)', i);
          EXECUTE format('CREATE ROLE other_%s', i);
          EXECUTE format('GRANT SELECT ON public.t%s TO other_%s', i, i);
        END LOOP; END $$""")
    manifest(1000)
    plan = env.plan_json()
    large = plan["targets"][0]["catalog_queries"]
    assert small == large == 13  # SPEC 9's kinds: a query for types, one for the objects outside schemas
    assert plan["summary"]["add"] > 1000


def test_two_concurrent_applies_serialise_on_the_advisory_lock(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target))
    results = []

    def run():
        results.append(env.cli_process("apply", "--yes", expect=None))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.code == 0 for r in results), [r.text for r in results]
    assert env.logs_in("reader_user")
    env.assert_converged()


def test_admin_from_an_rds_style_secret(seeded, aws):
    import boto3

    env = seeded
    boto3.client("secretsmanager").create_secret(
        Name=f"rds!cluster-{env.target}",
        SecretString=json.dumps({"username": env.server.user, "password": env.server.password}))
    env.manifest(textwrap.dedent(f"""
        version: 1
        targets:
          {env.target}:
            engine: postgres
            host: {env.server.host}
            port: {env.server.port}
            database: {env.database}
            admin: {{secret: "rds!cluster-{env.target}"}}
        """) + READER.format(target=env.target), header=False)
    env.apply()
    assert env.logs_in("reader_user")


def test_plan_output_formats(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target))
    document = env.plan_json()
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    assert document["format_version"] == 1 and document["kind"] == "plan"
    target = document["targets"][0]
    assert target["name"] == env.target and target["engine"] == "postgres"
    types = [ch["type"] for ch in target["changes"]]
    assert types[0] == "create_secret" and "create_role" in types and "grant_privileges" in types
    implied = [ch for ch in target["changes"] if ch["implied"]]
    assert {tuple(ch["attributes"]["privileges"]) for ch in implied} == {("CONNECT",), ("USAGE",)}
    markdown = env.cli("plan", "--format", "markdown").out
    assert "| target | engine | server | add | change | destroy |" in markdown
    assert f"| {env.target} | postgres | `dbadmin@{env.server.host}:{env.server.port}/{env.database}` |" in markdown
    assert "<details><summary>account <code>reader_user</code>" in markdown and "```diff" in markdown


def test_unreachable_database_and_missing_env_are_clear_errors(seeded, monkeypatch):
    env = seeded
    env.manifest(READER.format(target=env.target))
    monkeypatch.delenv(env.url_env)
    result = env.cli("plan", expect=1)
    assert f"the environment variable {env.url_env} is not set" in result.err
    monkeypatch.setenv(env.url_env, f"postgresql://dbadmin:wrong-password@127.0.0.1:{env.server.port}/x")
    result = env.cli("plan", expect=1)
    assert "admin credentials were refused" in result.err and "wrong-password" not in result.text


def test_sql_failure_mid_apply_keeps_secrets_rolls_back_database_and_rerun_converges(seeded):
    env = seeded
    env.manifest(READER.format(target=env.target))
    env.sql(f'ALTER ROLE dbadmin IN DATABASE "{env.database}" SET default_transaction_read_only = on')
    failed = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=1)
    assert f"apply of target {env.target} failed" in failed.err and "read-only transaction" in failed.err
    assert f"+ secret {env.target}/reader_user created" in failed.err
    assert "rolled back as one transaction" in failed.err
    assert env.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'reader_user'") == [(0,)]
    with psycopg.connect(env.server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'ALTER ROLE dbadmin IN DATABASE "{env.database}" RESET default_transaction_read_only')
    env.apply()
    assert env.logs_in("reader_user")
    env.assert_converged()


def test_implied_grants_are_not_added_when_public_or_a_role_already_provides_them(env):
    env.sql(SEED)  # PostgreSQL's defaults: PUBLIC may connect and use schema public
    env.sql("CREATE SCHEMA reporting; CREATE TABLE reporting.daily (d date)")
    env.manifest(f"""
        roles:
          - name: reporting_read
            target: {env.target}
            grants:
              - {{privileges: [SELECT], tables: [reporting.daily]}}
        accounts:
          - name: analyst
            target: {env.target}
            member_of: [reporting_read]
            grants:
              - {{privileges: [SELECT], tables: [public.films, reporting.daily]}}
        """)
    plan = env.cli("plan").out
    assert "GRANT CONNECT" not in plan
    assert 'GRANT USAGE ON SCHEMA "reporting" TO "reporting_read"  -- implied' in plan
    assert 'GRANT USAGE ON SCHEMA "reporting" TO "analyst"' not in plan  # inherited from reporting_read
    assert 'GRANT USAGE ON SCHEMA "public"' not in plan  # PUBLIC has it
    env.apply()
    with env.connect_as("analyst", env.secret("analyst")["password"]) as conn:
        conn.execute("SELECT * FROM reporting.daily, public.films")
    env.assert_converged()
