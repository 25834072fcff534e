"""SPEC 8, acted out: each test is someone holding part of the access a real deployment hands out — a principal
allowed only `PutSecretValue` on one secret, a managed account's own session, a second target's manifest, a hostile
schema owner, a server somebody else runs — trying to break a promise. The server and Secrets Manager judge the
outcome; the tool's own inspection is never the witness.

One test (or a small group) per class of the security review (issue 23), in its order.
"""

from __future__ import annotations

import json

import psycopg
import pymysql
import pytest
from support.fake_servers import FakeMySQL, FakePostgres
from support.recorders import sm_client

import provisioner
from provisioner import client as connect_helper
from provisioner.rotation import lambda_handler
from provisioner.secrets.trust import RotationError

PG_SEED = "CREATE TABLE public.films (id serial PRIMARY KEY, title text); INSERT INTO public.films (title) VALUES ('M')"


def _account(target: str, strategy: str = "single", name: str = "app_user", extra: str = "") -> str:
    return f"""
accounts:
  - name: {name}
    target: {target}
    rotation: {{strategy: {strategy}}}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}{extra}
"""


def _put_current(env, account: str, value: object) -> None:
    """What a principal allowed only secretsmanager:PutSecretValue on the secret can do."""
    sm_client().put_secret_value(SecretId=f"{env.target}/{account}", VersionStages=["AWSCURRENT"],
                                 SecretString=value if isinstance(value, str) else json.dumps(value))


# ---------------------------------------------------------------- 1. credentials go only where apply put them


@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_a_value_writer_cannot_redirect_rotation_to_their_server(env, strategy, rotation_lambda):
    env.sql(PG_SEED)
    env.manifest(_account(env.target, strategy) + _account(env.target, "single", "other_app").split("accounts:")[1],
                 admin_secret=True)
    env.apply()
    before = env.secret("app_user")
    other = sm_client().describe_secret(SecretId=f"{env.target}/other_app")["ARN"]
    with FakePostgres() as fake:
        tampered = {**before, "host": fake.host, "port": fake.port}
        if strategy == "alternating":
            tampered["masterarn"] = other  # a secret the rotation role can read, as if it were the admin's
        _put_current(env, "app_user", tampered)
        result = env.cli("rotate", "-f", "accounts.yaml", "app_user", expect=1)
        assert "names host, port" in result.err and "refusing to send a password there" in result.err, result.err
        if strategy == "alternating":
            assert "masterarn" in result.err
        secret_id = f"{env.target}/app_user"
        for step in ("createSecret", "setSecret"):
            with pytest.raises(RotationError, match="other than apply recorded"):
                _lambda(secret_id, rotation_lambda, step)
        assert fake.connections == 0 and fake.passwords == []
    # Restored by apply (it rewrites the fields from the manifest): rotation works again, on the real server.
    env.apply()
    assert env.secret("app_user")["host"] == env.server.host
    env.cli("rotate", "-f", "accounts.yaml", "app_user")
    assert env.logs_in("app_user")
    env.assert_converged()


def _lambda(secret_id: str, function: str, step: str) -> None:
    """A step as Secrets Manager invokes the function: rotation enabled, a new version staged AWSPENDING."""
    sm_client().rotate_secret(SecretId=secret_id, RotationLambdaARN=function,
                              RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    stages = sm_client().describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    token = next(v for v, s in stages.items() if "AWSPENDING" in s and "AWSCURRENT" not in s)
    lambda_handler({"SecretId": secret_id, "ClientRequestToken": token, "Step": step}, None)


def test_rotation_refuses_a_secret_without_the_binding_apply_records(env):
    env.sql(PG_SEED)
    env.manifest(_account(env.target))
    env.apply()
    arn = sm_client().describe_secret(SecretId=f"{env.target}/app_user")["ARN"]
    sm_client().untag_resource(SecretId=arn, TagKeys=["provisioner:binding"])
    result = env.cli("rotate", "-f", "accounts.yaml", "app_user", expect=1)
    assert "has no provisioner:binding tag" in result.err
    assert "provisioner:binding" in env.cli("plan", "-f", "accounts.yaml").out  # apply records it again
    env.apply()
    env.cli("rotate", "-f", "accounts.yaml", "app_user")


def test_admin_credentials_never_reach_a_server_asking_for_clear_text(env):
    """The admin URL (or a hijacked name) leads to a server that asks for the password in clear text: libpq is told
    to accept SCRAM only over a connection that may be unencrypted, so nothing is sent."""
    with FakePostgres() as fake:
        env.monkeypatch.setenv(env.url_env, env.server.url(env.database).replace(
            f"@{env.server.host}:{env.server.port}/", f"@{fake.host}:{fake.port}/"))
        env.manifest("", host=fake.host, port=fake.port)
        result = env.cli("plan", "-f", "accounts.yaml", expect=1)
        assert "asked for the password of dbadmin in a form provisioner never sends" in result.text
        assert fake.connections >= 1 and fake.passwords == []
        # The same server gets the password from a plain libpq client: the fake one is real enough.
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host=fake.host, port=fake.port, user="x", password="canary-pg", dbname="d",
                            connect_timeout=3)
        assert fake.passwords == [b"canary-pg"]


@pytest.mark.parametrize("mode", ["clear", "rsa"])
def test_mysql_credentials_never_reach_a_server_that_could_read_them(menv, mode):
    env = menv
    with FakeMySQL(mode) as fake:
        env.monkeypatch.setenv(env.url_env, env.server.url(env.database).replace(
            f"@{env.server.host}:{env.server.port}/", f"@{fake.host}:{fake.port}/"))
        env.manifest("", host=fake.host, port=fake.port)
        result = env.cli("plan", "-f", "accounts.yaml", expect=1)
        assert "over an unencrypted connection" in result.text, result.text
        assert fake.connections >= 1 and fake.passwords == []
        with pytest.raises(pymysql.err.OperationalError):  # plain pymysql hands it over
            pymysql.connect(host=fake.host, port=fake.port, user="x", password="canary-my", connect_timeout=3)
        assert fake.passwords == [b"canary-my"]


# ---------------------------------------------------------------- 2. managed principals cannot steer the tool


def test_grants_reaching_system_schemas_or_the_marker_database_are_refused(menv):
    env = menv
    env.manifest(f"""
accounts:
  - name: sneaky
    target: {env.target}
    grants:
      - {{privileges: [SELECT, INSERT], tables: ["pro%.*"]}}
      - {{privileges: [SELECT], tables: ["%.*"]}}
      - {{privileges: [SELECT], tables: [mysql.user]}}
      - {{privileges: [SELECT], tables: ["my\\\\_app.*"]}}
""")
    result = env.cli("validate", "-f", "accounts.yaml", expect=1)
    assert "'pro%' (a pattern) reaches 'provisioner_meta'" in result.err
    assert "'%' (a pattern) reaches 'mysql'" in result.err
    assert "tables 'mysql', a system schema" in result.err
    assert "my\\\\_app" not in result.err  # an escaped underscore reaches no system database
    assert "3 problems" in result.err


def test_a_forged_marker_never_gets_a_bystander_dropped(menv):
    env = menv
    env.sql("CREATE USER 'bystander'@'%' IDENTIFIED BY 'bystander-pass-1'")
    env.manifest(f"""
accounts:
  - name: insider
    target: {env.target}
    grants:
      - {{privileges: [SELECT], tables: ["{env.database}.*"]}}
""")
    env.apply()
    # Out of band, the insider is given write access to the marker table and forges a marker for the bystander.
    env.sql("GRANT INSERT ON provisioner_meta.* TO 'insider'@'%'")
    secret = env.secret("insider")
    with pymysql.connect(host=env.server.host, port=env.server.port, user="insider", password=secret["password"],
                         autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO provisioner_meta.accounts VALUES ('bystander', '%%', %s)",
                    (f"[managed by provisioner: target={env.target}]",))
    result = env.cli("plan", "-f", "accounts.yaml", expect=1)
    assert "bystander would be dropped as created by target" in result.out
    assert "'insider'@'%' can write provisioner_meta" in result.out
    env.cli("apply", "--yes", "-f", "accounts.yaml", expect=1)
    assert env.role_exists("bystander")


# ---------------------------------------------------------------- 3. strategy switches in every rotation state


@pytest.mark.parametrize("engine_env", ["env", "menv"])
def test_alternating_to_single_while_the_clone_is_current_logs_in(engine_env, request):
    env = request.getfixturevalue(engine_env)
    table = "public.films" if env.engine == "postgres" else f"{env.database}.films"
    env.sql(PG_SEED if env.engine == "postgres" else "CREATE TABLE films (id INT PRIMARY KEY)")
    body = _account(env.target, "alternating").replace("public.films", table)
    env.manifest(body, admin_secret=True)
    env.apply()
    env.cli("rotate", "-f", "accounts.yaml", "app_user")
    assert env.secret("app_user")["username"] == "app_user_clone"
    env.manifest(body.replace("alternating", "single"), admin_secret=True)
    plan = env.cli("plan", "-f", "accounts.yaml")
    assert "new password for app_user" in plan.out and "which account app_user does not have" in plan.out
    env.apply()
    assert env.secret("app_user")["username"] == "app_user" and "masterarn" not in env.secret("app_user")
    assert env.logs_in("app_user") and not env.role_exists("app_user_clone")
    env.assert_converged()
    env.manifest(body, admin_secret=True)  # and back
    env.apply()
    env.cli("rotate", "-f", "accounts.yaml", "app_user")
    assert env.secret("app_user")["username"] == "app_user_clone" and env.logs_in("app_user")
    env.assert_converged()


# ---------------------------------------------------------------- 4. one secret, one account


def test_two_accounts_never_share_a_secret(menv):
    env = menv
    env.manifest(f"""
accounts:
  - {{name: app, target: {env.target}, host: "10.0.%"}}
  - {{name: app, target: {env.target}, host: localhost}}
  - {{name: one, target: {env.target}, secret: {{name: shared/name}}}}
  - {{name: two, target: {env.target}, secret: {{name: shared/name}}}}
""")
    result = env.cli("validate", "-f", "accounts.yaml", expect=1)
    assert f"account 'app' would share the secret '{env.target}/app'" in result.err
    assert "account 'two' would share the secret 'shared/name'" in result.err
    # A secret already tagged for another account is refused by plan, and left as it is.
    env.manifest(f"accounts:\n  - {{name: taker, target: {env.target}}}\n")
    sm_client().create_secret(Name=f"{env.target}/taker", SecretString=json.dumps({"password": "someone-elses"}),
                              Tags=[{"Key": "provisioner:managed", "Value": "true"},
                                    {"Key": "provisioner:target", "Value": env.target},
                                    {"Key": "provisioner:account", "Value": "somebody"}])
    result = env.cli("plan", "-f", "accounts.yaml", expect=1)
    assert "belongs to account 'somebody'" in result.out
    assert json.loads(sm_client().get_secret_value(SecretId=f"{env.target}/taker")["SecretString"]) == {
        "password": "someone-elses"}


# ---------------------------------------------------------------- 5. a target touches only its own


def test_absent_under_another_target_never_drops_a_role_it_does_not_own(env):
    env.manifest(f"accounts:\n  - {{name: shared_role, target: {env.target}}}\n")
    env.apply()
    second = f"{env.target}x"
    env.manifest(f"""
version: 1
targets:
  {second}:
    engine: postgres
    host: {env.server.host}
    port: {env.server.port}
    database: postgres
    admin: {{url_env: {env.url_env}}}
accounts:
  - {{name: shared_role, target: {second}, state: absent}}
""", name="other.yaml", header=False)
    env.monkeypatch.setenv(env.url_env, env.server.url("postgres"))
    result = env.cli("apply", "--yes", "-f", "other.yaml", expect=1)
    assert f"it is managed by target '{env.target}'" in result.text
    assert env.role_exists("shared_role")


# ---------------------------------------------------------------- 6. secret values that are not credentials


@pytest.mark.parametrize("value", ["not json at all", '["an", "array"]', '{"username": "app_user"}',
                                   "NUMBER_PASSWORD"])
def test_a_broken_secret_value_gets_a_new_password_and_logs_in(env, value):
    env.sql(PG_SEED)
    env.manifest(_account(env.target))
    env.apply()
    if value == "NUMBER_PASSWORD":
        value = json.dumps({**env.secret("app_user"), "password": 12345678})
    _put_current(env, "app_user", value)
    connect_helper.invalidate()
    with pytest.raises(Exception) as failed:  # the application's helper: a clear error, never a TypeError
        provisioner.connect(f"{env.target}/app_user", ttl=0)
    assert isinstance(failed.value, ValueError) and "the secret" in str(failed.value), repr(failed.value)
    plan = env.cli("plan", "-f", "accounts.yaml")
    assert "the secret's value cannot log in" in plan.out
    env.apply()
    assert env.logs_in("app_user") and env.secret("app_user")["host"] == env.server.host
    env.assert_converged()


# ---------------------------------------------------------------- 7. any name the server allows


def test_routines_with_parentheses_and_quotes_in_their_names_are_managed(env):
    env.sql('CREATE SCHEMA odd; CREATE TYPE odd."t)" AS (a int);'
            'CREATE FUNCTION odd."x(y"(integer) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;'
            'CREATE FUNCTION odd."q""uote"(odd."t)") RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;'
            'CREATE FUNCTION odd.plain(text) RETURNS int LANGUAGE sql AS $$ SELECT 3 $$;'
            'REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA odd FROM PUBLIC')
    env.manifest(f"""
accounts:
  - name: caller
    target: {env.target}
    grants:
      - {{privileges: [EXECUTE], functions: ['odd."x(y"(integer)']}}
  - name: everything
    target: {env.target}
    grants:
      - {{privileges: [EXECUTE], functions: ["odd.*"]}}
""")
    env.apply()
    env.assert_converged()

    def may(role: str, signature: str) -> bool:
        return env.sql("SELECT has_function_privilege(%s, %s, 'EXECUTE')", (role, signature))[0][0]

    assert may("caller", 'odd."x(y"(integer)') and not may("caller", "odd.plain(text)")
    for signature in ('odd."x(y"(integer)', 'odd."q""uote"(odd."t)")', "odd.plain(text)"):
        assert may("everything", signature), signature
    env.sql('GRANT EXECUTE ON FUNCTION odd."q""uote"(odd."t)") TO caller')  # drift on the oddest one
    env.apply()
    assert not may("caller", 'odd."q""uote"(odd."t)")')
    env.assert_converged()


# ---------------------------------------------------------------- 8 and 12. settings as the server reads them


def test_setting_names_compare_case_insensitively_and_values_are_checked_by_the_server(env):
    env.manifest(f"""
accounts:
  - {{name: a1, target: {env.target}, settings: {{ROLE: someone}}}}
  - {{name: a2, target: {env.target}, settings: {{search_path: a, Search_Path: b}}}}
""")
    result = env.cli("validate", "-f", "accounts.yaml", expect=1)
    assert "the `ROLE` setting is the tool's own" in result.err
    assert "setting 'Search_Path' is 'search_path' again" in result.err
    env.manifest(f"accounts:\n  - {{name: a3, target: {env.target}, settings: {{Statement_Timeout: 30s}}}}\n")
    env.apply()
    env.assert_converged()
    env.manifest(f"accounts:\n  - {{name: a4, target: {env.target}, "
                 f"settings: {{statement_timeout: not-a-duration}}}}\n")
    result = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=1)
    assert 'invalid value for parameter "statement_timeout"' in result.text
    assert not env.role_exists("a4")
    with pytest.raises(sm_client().exceptions.ResourceNotFoundException):
        sm_client().describe_secret(SecretId=f"{env.target}/a4")


# ---------------------------------------------------------------- 9 and 10. MariaDB hosts and databases


def test_a_mixed_case_host_converges_and_a_secret_names_a_database_the_account_may_use(menv):
    env = menv
    other = f"{env.database}_other"
    env.sql(f"CREATE DATABASE `{other}`;\nCREATE TABLE `{other}`.t (id INT)")
    try:
        env.manifest(f"""
accounts:
  - {{name: local_app, target: {env.target}, host: LocalHost, rotation: {{strategy: single}}}}
  - name: elsewhere
    target: {env.target}
    rotation: {{strategy: single}}
    grants:
      - {{privileges: [SELECT], tables: [{other}.t]}}
""")
        env.apply()
        env.assert_converged()
        assert env.sql("SELECT Host FROM mysql.user WHERE User = 'local_app'") == [("localhost",)]
        assert env.secret("elsewhere")["dbname"] == other
        with provisioner.connect(f"{env.target}/elsewhere", ttl=0) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM t")
        env.cli("rotate", "-f", "accounts.yaml", "elsewhere")
        assert env.logs_in("elsewhere")
    finally:
        env.sql(f"DROP DATABASE IF EXISTS `{other}`")


# ---------------------------------------------------------------- 12. the Lambda handler's input


def test_lambda_events_without_fields_are_clear_errors_and_warm_calls_add_no_log_filters(aws):
    import logging

    for event in ({}, {"SecretId": "x"}, {"SecretId": 1, "ClientRequestToken": "t", "Step": "createSecret"}, []):
        with pytest.raises(RotationError, match="rotation event"):
            lambda_handler(event, None)
    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        for _ in range(50):
            with pytest.raises(RotationError):
                lambda_handler({"Step": "createSecret"}, None)
        assert len(handler.filters) == 1
    finally:
        root.removeHandler(handler)


# ---------------------------------------------------------------- 13. hostile YAML, escalations, --target


def test_hostile_yaml_gets_file_and_line_errors(env, tmp_path):
    cases = {
        "nul.yaml": ("version: 1\nx: 'a\x00b'\n", ":2:", "U+0000 is not allowed"),
        "tag.yaml": ("version: 1\ntargets: !custom {}\n", ":2:", "the YAML tag !custom is not allowed"),
        "binary.yaml": ("version: 1\naccounts:\n  - {name: !!binary aGk=, target: t}\n", ":3:",
                        "the YAML tag !!binary"),
        "sexagesimal.yaml": ("version: 1\ntargets:\n  t: {engine: postgres, admin: {url_env: X}}\n"
                             "accounts:\n  - {name: a, target: t, connection_limit: 1:30}\n", ":5:",
                             "must be integer, not a string"),
        "long.yaml": ("version: 1\ntargets:\n  t: {engine: postgres, admin: {url_env: X}}\naccounts:\n"
                      "  - {name: a, target: t, description: '" + "d" * 5_000_000 + "'}\n", ":5:",
                      "5,000,000 characters long; it must be at most 1024"),
    }
    for name, (text, line, message) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        result = env.cli("validate", "-f", tmp_path / name, expect=1)
        assert f"{name}{line}" in result.err and message in result.err, result.err[:500]
        assert "internal error" not in result.err and len(result.err) < 2_000


def test_power_beyond_object_privileges_is_flagged_in_plans_and_pr_comments(env):
    env.manifest(f"""
roles:
  - {{name: ops, target: {env.target}}}
accounts:
  - name: escalated
    target: {env.target}
    attributes: [CREATEROLE]
    member_of: [pg_execute_server_program, {{role: ops, admin: true}}]
""")
    markdown = env.cli("plan", "-f", "accounts.yaml", "--format", "markdown").out
    caution = markdown.split("> [!CAUTION]")[1].split("\n\n")[0]
    assert "3 change(s) widen power" in caution
    for reason in ("role attribute CREATEROLE", "membership in pg_execute_server_program", "ADMIN OPTION on ops"):
        assert reason in caution
    text = env.cli("plan", "-f", "accounts.yaml").out
    assert "WIDENS POWER: membership in pg_execute_server_program" in text
    changes = env.plan_json()["targets"][0]["changes"]
    assert sorted(c["widens_power"] for c in changes if c["widens_power"]) == [
        "ADMIN OPTION on ops (may grant it to others)", "membership in pg_execute_server_program",
        "role attribute CREATEROLE"]


def test_plan_of_one_target_still_checks_the_targets_it_did_not_select(env):
    env.monkeypatch.setenv(f"{env.url_env}_B", env.server.url("postgres").replace(env.server.host, "localhost"))
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
    host: localhost
    port: {env.server.port}
    database: postgres
    admin: {{url_env: {env.url_env}_B}}
accounts:
  - {{name: reporter, target: {env.target}}}
  - {{name: reporter, target: {env.target}b}}
""", header=False)
    result = env.cli("apply", "--yes", "-f", "accounts.yaml", "--target", f"{env.target}b", expect=1)
    assert "the same server is reached by two targets" in result.text
    assert not env.role_exists("reporter")


# ---------------------------------------------------------------- issue 24, safety: never a silent server switch


def test_a_target_and_its_admin_url_naming_different_servers_are_refused(env):
    env.monkeypatch.setenv(env.url_env, env.server.url(env.database).replace(env.server.host, "127.0.0.2"))
    env.manifest("")  # host: 127.0.0.1 on the target, 127.0.0.2 in the URL
    for command in (["plan"], ["apply", "--yes"]):
        result = env.cli(*command, "-f", "accounts.yaml", expect=1)
        assert "name different servers: host 127.0.0.1 (target) vs 127.0.0.2" in result.text, result.text


def test_every_failing_target_is_reported_with_the_line_that_says_why(env):
    env.monkeypatch.setenv("BAD_ONE", env.server.url(env.database, password="wrong-one"))
    env.monkeypatch.setenv("BAD_TWO", env.server.url(env.database, password="wrong-two"))
    env.monkeypatch.setenv("CLOSED", env.server.url(env.database).replace(f":{env.server.port}/", ":1/"))
    targets = "".join(f"""
  {env.target}{suffix}:
    engine: postgres
    database: {env.database}
    admin: {{url_env: {variable}}}""" for suffix, variable in (("a", "BAD_ONE"), ("b", "BAD_TWO"), ("c", "CLOSED")))
    env.manifest(f"version: 1\ntargets:{targets}\n", header=False)
    for command in (["plan"], ["apply", "--yes"]):
        result = env.cli(*command, "-f", "accounts.yaml", expect=1)
        for suffix in ("a", "b"):
            assert f"target {env.target}{suffix}: the admin credentials were refused" in result.text, result.text
        assert "Connection refused" in result.text and "Is the server running" not in result.text
