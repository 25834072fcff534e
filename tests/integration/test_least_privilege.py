"""The tool's own least privilege: a non-superuser PostgreSQL admin with only what docs/admin-privileges.md
lists runs the main scenarios, and every AWS call each command makes is allowed by its docs/iam/*.json."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import psycopg
import pytest

from provisioner.secrets import store as secrets_manager

ROOT = Path(__file__).resolve().parents[2]


def actions(policy: str) -> set[str]:
    document = json.loads((ROOT / "docs" / "iam" / f"{policy}.json").read_text())
    found: set[str] = set()
    for statement in document["Statement"]:
        listed = statement["Action"]
        found |= set(listed if isinstance(listed, list) else [listed])
    return found


@pytest.fixture
def limited_admin(env):
    """An RDS-like master: CREATEROLE, owner of the schema and tables it grants on, no superuser."""
    password = "limited-admin-pass-1"
    env.sql(f"""
        CREATE ROLE app_admin LOGIN CREATEROLE PASSWORD '{password}';
        GRANT CONNECT, CREATE ON DATABASE "{env.database}" TO app_admin WITH GRANT OPTION;
        CREATE SCHEMA app AUTHORIZATION app_admin;
        SET ROLE app_admin;
        CREATE TABLE app.films (id serial PRIMARY KEY, title text);
        CREATE TABLE app.rentals (id int);
        RESET ROLE;
        REVOKE CONNECT, TEMPORARY ON DATABASE "{env.database}" FROM PUBLIC;
    """)
    assert env.sql("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = 'app_admin'") == [(False, True)]
    env.monkeypatch.setenv(env.url_env, env.server.url(env.database, user="app_admin", password=password))
    name = f"admin-{env.target}"
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(
        {"username": "app_admin", "password": password}))
    return name


def test_main_scenarios_with_a_non_superuser_admin(env, limited_admin):
    env.manifest(f"""
        version: 1
        targets:
          {env.target}:
            engine: postgres
            host: {env.server.host}
            port: {env.server.port}
            database: {env.database}
            admin: {{secret: "{limited_admin}"}}
        roles:
          - name: app_read
            target: {env.target}
            grants:
              - {{privileges: [SELECT], tables: ["app.*"]}}
        accounts:
          - name: reader_user
            target: {env.target}
            member_of: [app_read]
          - name: writer_user
            target: {env.target}
            rotation: {{strategy: alternating}}
            grants:
              - {{privileges: [SELECT, INSERT], tables: [app.films]}}
              - {{privileges: [USAGE], sequences: [app.films_id_seq]}}
          - name: temp_user
            target: {env.target}
        """, header=False)
    env.apply()
    env.sql("SET ROLE app_admin; CREATE TABLE app.later (id int); INSERT INTO app.later VALUES (1)")
    reader = env.secret("reader_user")
    with env.connect_as("reader_user", reader["password"]) as conn:
        assert conn.execute("SELECT id FROM app.later").fetchall() == [(1,)]  # default privileges of app_admin
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO app.rentals VALUES (1)")
    for _ in range(2):
        env.cli("rotate", "writer_user")
        assert env.logs_in("writer_user") and env.logs_in("writer_user", "AWSPREVIOUS")
    env.cli("rotate", "reader_user")
    assert env.logs_in("reader_user")
    env.assert_converged()
    # drop one account and change grants: revokes and DROP ROLE as a non-superuser
    text = (env.tmp / "accounts.yaml").read_text()
    assert f"  - name: temp_user\n    target: {env.target}\n" in text
    env.manifest(text.replace(f"  - name: temp_user\n    target: {env.target}\n", "").replace(
        "[SELECT, INSERT], tables: [app.films]", "[SELECT], tables: [app.films]"), header=False)
    env.apply()
    assert not env.role_exists("temp_user")
    env.assert_converged()


def test_a_grant_the_admin_cannot_make_is_an_error_not_a_silent_warning(env, limited_admin):
    env.sql(f'REVOKE GRANT OPTION FOR CONNECT ON DATABASE "{env.database}" FROM app_admin')
    env.manifest(f"""
        accounts:
          - name: reader_user
            target: {env.target}
            grants: [{{privileges: [SELECT], tables: [app.films]}}]
        """)
    result = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=1)
    assert "the admin lacks a privilege for `GRANT CONNECT ON DATABASE" in result.err
    assert "WITH GRANT OPTION" in result.err and "rolled back" in result.err
    assert not env.role_exists("reader_user")


def test_a_missing_privilege_is_named(env, limited_admin):
    env.sql("ALTER ROLE app_admin NOCREATEROLE")
    env.manifest(f"""
        accounts:
          - name: reader_user
            target: {env.target}
        """)
    result = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=1)
    assert "the admin lacks a privilege" in result.err and "permission denied to create role" in result.err
    assert "docs/admin-privileges.md" in result.err


def test_every_aws_call_is_allowed_by_the_documented_policies(env, rotation_lambda):
    calls: dict[str, set[str]] = {}
    current: list[str] = []
    secrets_manager.OBSERVERS.append(lambda op, params: calls.setdefault(current[0], set()).add(op))
    try:
        env.sql("CREATE TABLE films (id int)")
        env.manifest(f"""
            accounts:
              - name: single_user
                target: {env.target}
                rotation: {{strategy: single, schedule: rate(30 days), function: "{rotation_lambda}"}}
                grants: [{{privileges: [SELECT], tables: [public.films]}}]
              - name: twin_user
                target: {env.target}
                rotation: {{strategy: alternating}}
              - name: gone_user
                target: {env.target}
            """, admin_secret=True)
        for command, args in (("plan", ["plan"]), ("apply", ["apply", "--yes"]),
                              ("apply", ["apply", "--yes", "--reset-password", "single_user"]),
                              ("rotate", ["rotate", "single_user", "twin_user"]), ("plan", ["plan"])):
            current[:] = [command]
            env.cli(*args, "-f", "accounts.yaml")
        env.manifest((env.tmp / "accounts.yaml").read_text().replace(
            f"  - name: gone_user\n    target: {env.target}\n", ""), header=False)
        current[:] = ["apply"]
        env.cli("apply", "--yes", "-f", "accounts.yaml")
    finally:
        secrets_manager.OBSERVERS.clear()
    assert {"CreateSecret", "DeleteSecret", "RotateSecret", "PutSecretValue"} <= calls["apply"]
    for command, operations in calls.items():
        allowed = actions(command)
        missing = {op for op in operations if f"secretsmanager:{op}" not in allowed}
        assert not missing, f"docs/iam/{command}.json lacks {sorted(missing)}"


def test_a_new_account_costs_at_most_two_secrets_manager_calls(env):
    """CreateSecret (tagged sync-pending) and UntagResource after the commit; the password is made locally."""
    from provisioner.secrets import store as secrets_manager

    env.sql("CREATE TABLE public.films (id int)")
    accounts = "".join(f"  - {{name: svc_{i}, target: {env.target}, "
                       f"grants: [{{privileges: [SELECT], tables: [public.films]}}]}}\n" for i in range(10))
    env.manifest("accounts:\n" + accounts)
    calls: list[str] = []
    secrets_manager.OBSERVERS.append(lambda op, params: calls.append(op))
    try:
        env.apply()
    finally:
        secrets_manager.OBSERVERS.clear()
    per_account = [op for op in calls if op not in ("ListSecrets", "BatchGetSecretValue")]
    assert "GetRandomPassword" not in calls
    assert len(per_account) <= 2 * 10, sorted(per_account)
    for i in range(10):
        assert env.logs_in(f"svc_{i}")


def test_a_plan_reads_the_values_of_its_own_targets_secrets_only(env):
    """On an account shared by many targets, the other targets' secrets are listed but their values not read:
    BatchGetSecretValue asks only for secrets tagged for the planned target."""
    from provisioner.core.conventions import ACCOUNT_TAG, MANAGED_TAG, TARGET_TAG

    client = boto3.client("secretsmanager")
    others = {client.create_secret(Name=f"elsewhere-{env.target}/svc_{i}", SecretString='{"username": "x"}',
                                   Tags=[{"Key": MANAGED_TAG, "Value": "true"},
                                         {"Key": TARGET_TAG, "Value": f"elsewhere-{env.target}"},
                                         {"Key": ACCOUNT_TAG, "Value": f"svc_{i}"}])["ARN"] for i in range(3)}
    env.sql("CREATE TABLE public.films (id int)")
    env.manifest(f"accounts:\n  - {{name: svc_own, target: {env.target}, "
                 f"grants: [{{privileges: [SELECT], tables: [public.films]}}]}}\n")
    env.apply()
    asked: list[str] = []
    secrets_manager.OBSERVERS.append(
        lambda op, params: asked.extend(params.get("SecretIdList", [])) if op == "BatchGetSecretValue" else None)
    try:
        assert env.plan_json()["has_changes"] is False
    finally:
        secrets_manager.OBSERVERS.clear()
    assert asked, "the plan read no secret value at all"
    assert not others & set(asked), "the plan read the values of another target's secrets"
