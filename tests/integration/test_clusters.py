"""Several targets, one server (SPEC 7): roles are server-wide, so one role under two targets of the same server
is refused — by `validate` when host and port are equal, by `plan` and `apply` when the servers prove to be the
same — before anything is written: no role, no secret."""

from __future__ import annotations

import contextlib

import psycopg
import pytest
import yaml
from support.recorders import record_fault, sm_client


def _two_targets(env, second_host: str) -> None:
    # The second target's admin URL names the server as the target does (never two endpoints for one target).
    env.monkeypatch.setenv(f"{env.url_env}_B", env.server.url("postgres").replace(f"@{env.server.host}:",
                                                                                  f"@{second_host}:"))
    env.manifest(f"""
version: 1
targets:
  {env.target}:
    engine: postgres
    host: {env.server.host}
    port: {env.server.port}
    database: {env.database}
    admin: {{url_env: {env.url_env}}}
  {env.target}b:
    engine: postgres
    host: {second_host}
    port: {env.server.port}
    database: postgres
    admin: {{url_env: {env.url_env}_B}}
accounts:
  - name: reporter
    target: {env.target}
  - name: reporter
    target: {env.target}b
  - name: only_here
    target: {env.target}b
""", header=False)


def _secrets(env) -> list[str]:
    """The secrets either target would have made (none may exist)."""
    client, found = sm_client(), []
    for name in (f"{env.target}/reporter", f"{env.target}b/reporter", f"{env.target}b/only_here"):
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            found.append(client.describe_secret(SecretId=name)["Name"])
    return found


def test_the_same_role_under_two_targets_of_one_server_is_refused_before_anything_is_written(env):
    _two_targets(env, env.server.host)
    result = env.cli("validate", "-f", "accounts.yaml", expect=1)
    assert "account 'reporter' is also declared under target" in result.text
    assert f"both targets are {env.server.host}:{env.server.port}" in result.text
    # Another name for the same server: validation cannot know, the plan asks the servers.
    _two_targets(env, "localhost")
    env.cli("validate", "-f", "accounts.yaml")
    for command in (["plan"], ["apply", "--yes"]):
        result = env.cli(*command, "-f", "accounts.yaml", expect=1)
        assert "the same server is reached by two targets" in result.text, result.text
        assert f"targets {env.target} and {env.target}b declare reporter" in result.text
    assert not env.role_exists("reporter") and not env.role_exists("only_here")
    assert _secrets(env) == []


# ---------------------------------------------------------------- one target, several databases of one cluster

@pytest.fixture
def billing(env):
    """A second database of the test's cluster, `<database>_billing`, with its own schema and tables."""
    name = f"{env.database}_billing"
    env.adapter.create_database(env.server, name)
    yield name
    env.adapter.sql(env.server, "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', ())


def _in(env, database: str, query: str, params: tuple = ()) -> list[tuple]:
    return env.adapter.sql(env.server, database, query, params)


CLUSTER = """
roles:
  - name: films_owner
    target: {target}
accounts:
  - name: reporter
    target: {target}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
{extra}
    database_settings: {{{billing}: {{work_mem: 64MB}}}}
"""
BILLING_GRANTS = """      - {{privileges: [SELECT], tables: [public.invoices], database: {billing}}}
      - {{privileges: [SELECT, INSERT], tables: ["ledger.*"], database: {billing}}}"""


def _cluster(env, billing: str, grants: bool = True) -> None:
    extra = BILLING_GRANTS.format(billing=billing) if grants else ""
    env.manifest(CLUSTER.format(target=env.target, billing=billing, extra=extra),
                 target_extra=f"    databases: [{env.database}, {billing}]\n"
                              f"    public_privileges:\n      revoke:\n"
                              f"        - {{privileges: [CONNECT], databases: [{env.database}, {billing}]}}\n")


def test_one_account_reaches_two_databases_of_one_cluster_with_its_one_secret(env, billing):
    env.sql("CREATE TABLE public.films (id int)")
    _in(env, billing, "CREATE TABLE public.invoices (id int); CREATE TABLE public.refunds (id int); "
                      "CREATE SCHEMA ledger; CREATE TABLE ledger.entries (id int)")
    _cluster(env, billing)
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert f'GRANT SELECT ON TABLE "public"."invoices" TO "reporter"  -- in database {billing}' in plan, plan
    assert f'GRANT CONNECT ON DATABASE "{env.database}", "{billing}" TO "reporter"  -- implied' in plan, plan
    assert f'GRANT USAGE ON SCHEMA "ledger" TO "reporter"  -- in database {billing}; implied' in plan
    assert f'REVOKE CONNECT ON DATABASE "{env.database}", "{billing}" FROM PUBLIC' in plan
    env.apply()
    secrets = [s["Name"] for s in sm_client().list_secrets(
        Filters=[{"Key": "name", "Values": [f"{env.target}/"]}])["SecretList"]]
    assert secrets == [f"{env.target}/reporter"]  # one account, one secret
    secret = env.secret("reporter")
    for database, table in ((env.database, "public.films"), (billing, "public.invoices"),
                            (billing, "ledger.entries")):
        with psycopg.connect(host=env.server.host, port=env.server.port, user="reporter",
                             password=secret["password"], dbname=database, autocommit=True) as conn:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    # The server is the judge: exactly the declared privileges in each database, CONNECT to both.
    judge = ("SELECT has_table_privilege('reporter', 'public.invoices', 'SELECT'), "
             "has_table_privilege('reporter', 'public.invoices', 'INSERT'), "
             "has_table_privilege('reporter', 'public.refunds', 'SELECT'), "
             "has_table_privilege('reporter', 'ledger.entries', 'INSERT'), "
             "has_database_privilege('reporter', current_database(), 'CONNECT'), "
             "has_database_privilege('films_owner', current_database(), 'CONNECT')")
    assert _in(env, billing, judge) == [(True, False, False, True, True, False)]
    # ledger.* reaches tables created later by the schema's owner (default privileges in that database).
    _in(env, billing, "CREATE TABLE ledger.later (id int)")
    assert _in(env, billing, "SELECT has_table_privilege('reporter', 'ledger.later', 'SELECT')") == [(True,)]
    assert _in(env, billing, "SELECT setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = "
                             "s.setdatabase WHERE d.datname = current_database()") == [(["work_mem=64MB"],)]
    env.assert_converged()
    # The grants in the second database leave the file: they go, there, and so does its implied CONNECT.
    _cluster(env, billing, grants=False)
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert f'REVOKE SELECT ON TABLE "public"."invoices" FROM "reporter"  -- in database {billing}' in plan, plan
    env.apply()
    assert _in(env, billing, judge) == [(False, False, False, False, False, False)]
    assert _in(env, billing, "SELECT count(*) FROM pg_default_acl") == [(0,)]
    env.assert_converged()


RETIRING = """
roles:
  - name: films_owner
    target: {target}
accounts:
  - name: old_batch
    target: {target}
    {state}
    grants:
      - {{privileges: [CREATE], schemas: [public]}}
{billing_grant}"""


def _retiring(env, billing: str, state: str = "", managed: bool = True) -> None:
    databases = f"[{env.database}, {billing}]" if managed else f"[{env.database}]"
    billing_grant = f"      - {{privileges: [CREATE], schemas: [public], database: {billing}}}\n" if managed else ""
    env.manifest(RETIRING.format(target=env.target, billing_grant=billing_grant, state=state),
                 target_extra=f"    databases: {databases}\n" if managed else "")


def test_a_role_owning_objects_in_two_databases_is_retired_while_a_session_is_open(env, billing):
    _retiring(env, billing)
    env.apply()
    password = env.secret("old_batch")["password"]
    sessions = {}
    for database in (env.database, billing):
        sessions[database] = psycopg.connect(host=env.server.host, port=env.server.port, user="old_batch",
                                             password=password, dbname=database, autocommit=True)
    sessions[env.database].execute("CREATE TABLE public.batch_runs (id serial)")  # a table and its sequence
    sessions[billing].execute("CREATE TABLE public.batch_totals (n int)")
    _in(env, billing, "CREATE TABLE public.rates (n int); GRANT SELECT ON public.rates TO old_batch")
    sessions[billing].close()
    # Not managed, the second database keeps the role from leaving: the plan names it.
    _retiring(env, billing, "state: absent\n    retire: {reassign_owned_to: films_owner}", managed=False)
    refused = env.cli("plan", "-f", "accounts.yaml", expect=1)
    assert f"in databases target {env.target} does not manage (3 in database {billing})" in refused.text, refused.text
    _retiring(env, billing, "state: absent")
    refused = env.cli("plan", "-f", "accounts.yaml", expect=1)
    assert (f"old_batch cannot be dropped: it owns 3 object(s): 2 in database {env.database}") in refused.text
    assert f"1 in database {billing}" in refused.text
    _retiring(env, billing, "state: absent\n    retire: {reassign_owned_to: films_owner, terminate_sessions: true}")
    plan = env.cli("plan", "-f", "accounts.yaml").out
    steps = [line.strip() for line in plan.splitlines() if "old_batch" in line and line.strip()[:1] in "~-"]
    assert steps[:-1] == [
        '~ ALTER ROLE "old_batch" NOLOGIN',
        "- SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'old_batch' AND pid <> "
        "pg_backend_pid()",
        f'- REASSIGN OWNED BY "old_batch" TO "films_owner"  -- in database {billing}',
        f'- DROP OWNED BY "old_batch"  -- in database {billing}',
        '- REASSIGN OWNED BY "old_batch" TO "films_owner"', '- DROP OWNED BY "old_batch"',
        '- DROP ROLE "old_batch"'], plan
    env.apply()
    assert not env.role_exists("old_batch")
    owners = "SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relname LIKE 'batch%' ORDER BY 1"
    assert env.sql(owners) == [("batch_runs", "films_owner"), ("batch_runs_id_seq", "films_owner")]
    assert _in(env, billing, owners) == [("batch_totals", "films_owner")]
    with pytest.raises(psycopg.OperationalError):
        sessions[env.database].execute("SELECT 1")  # its session was ended
    env.assert_converged()


def test_import_writes_the_grants_of_every_managed_database_and_the_round_trip_is_empty(env, billing):
    env.sql("CREATE TABLE public.films (id int); CREATE ROLE legacy LOGIN PASSWORD 'legacy-pass-1'; "
            "GRANT SELECT ON public.films TO legacy")
    _in(env, billing, "CREATE TABLE public.invoices (id int); GRANT SELECT, INSERT ON public.invoices TO legacy; "
                      f'REVOKE CONNECT ON DATABASE "{billing}" FROM PUBLIC; '
                      f'GRANT CONNECT ON DATABASE "{billing}" TO legacy')
    env.manifest("", target_extra=f"    databases: [{env.database}, {billing}]\n")
    result = env.cli("import", "-f", "accounts.yaml", "--target", env.target, "--adopt")
    legacy = yaml.safe_load(result.out)["accounts"][0]
    assert legacy["grants"] == [{"privileges": ["SELECT"], "tables": ["public.films"]},
                                {"privileges": ["INSERT", "SELECT"], "tables": ["public.invoices"],
                                 "database": billing}]  # CONNECT on the second database is implied
    (env.tmp / "manifests").mkdir()
    (env.tmp / "manifests" / "00-targets.yaml").write_text((env.tmp / "accounts.yaml").read_text())
    (env.tmp / "manifests" / "imported.yaml").write_text(result.out)
    assert env.cli("plan", "-f", "manifests", "--detailed-exitcode").code == 0


KILLED = """
roles:
  - name: heir
    target: {target}
accounts:
  - name: keeper
    target: {target}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
      - {{privileges: [SELECT], tables: [public.invoices], database: {billing}}}
{after}"""
KILLED_AFTER = """  - name: reader
    target: {target}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
      - {{privileges: [SELECT, INSERT], tables: [public.invoices], database: {billing}}}
  - name: retiree
    target: {target}
    state: absent
    retire: {{reassign_owned_to: heir}}
"""
KILLED_BEFORE = """  - name: retiree
    target: {target}
    grants:
      - {{privileges: [CREATE], schemas: [public]}}
      - {{privileges: [CREATE], schemas: [public], database: {billing}}}
"""


def test_a_cluster_apply_killed_between_its_databases_loses_no_credential_and_the_rerun_finishes(env, billing):
    """Each database is a transaction of its own: a kill between them leaves some databases done. No account
    loses a working secret, and the rerun completes the rest (the retired role's objects end with its heir in
    both databases)."""
    env.sql("CREATE TABLE public.films (id int)")
    _in(env, billing, "CREATE TABLE public.invoices (id int)")
    extra = f"    databases: [{env.database}, {billing}]\n"
    kills = 0
    for point in ("between-statements", "before-commit"):
        for n in range(1, 12):
            env.manifest(KILLED.format(target=env.target, billing=billing,
                                       after=KILLED_BEFORE.format(target=env.target, billing=billing)),
                         target_extra=extra)
            env.apply()
            password = env.secret("retiree")["password"]
            for database in (env.database, billing):
                with psycopg.connect(host=env.server.host, port=env.server.port, user="retiree", password=password,
                                     dbname=database, autocommit=True) as conn:
                    conn.execute(f"CREATE TABLE public.owned_{point[:6]}_{n} (id int)")
            env.manifest(KILLED.format(target=env.target, billing=billing,
                                       after=KILLED_AFTER.format(target=env.target, billing=billing)),
                         target_extra=extra)
            killed = env.cli_process("apply", "--yes", "--reset-password", "keeper",
                                     env={"PROVISIONER_FAULT": f"{point}:{n}"}, expect=None)
            if killed.code == 0:
                break
            assert killed.code == -9, killed.text
            kills += 1
            record_fault(env, ["keeper", "reader"])
            env.apply()
            env.assert_converged()
            owners = ("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = %s")
            for database in (env.database, billing):
                assert _in(env, database, owners, (f"owned_{point[:6]}_{n}",)) == [("heir",)]
            for account in ("keeper", "reader"):
                secret = env.secret(account)
                with psycopg.connect(host=env.server.host, port=env.server.port, user=account,
                                     password=secret["password"], dbname=billing, autocommit=True) as conn:
                    conn.execute("SELECT count(*) FROM public.invoices")
            assert not env.role_exists("retiree")
    assert kills >= 6
