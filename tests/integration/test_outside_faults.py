"""Faults from outside: the database connection drops mid-apply, Secrets Manager throttles or fails for a
while, the admin secret is missing. None leaves a state the next run cannot fix; debug output leaks nothing."""

from __future__ import annotations

import boto3
import pytest
from support.flaky_http import FlakyProxy
from support.tcp_proxy import TcpProxy

from provisioner import faults

READER = """
accounts:
  - name: reader_user
    target: {t}
    grants: [{{privileges: [SELECT], tables: [{q}.films]}}]
  - name: writer_user
    target: {t}
    grants: [{{privileges: [SELECT, INSERT], tables: [{q}.films]}}]
"""


@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_database_connection_drops_mid_apply(request, engine):
    env = request.getfixturevalue("env" if engine == "postgres" else "menv")
    env.sql("CREATE TABLE films (id int)")
    proxy = TcpProxy(env.server.host, env.server.port).start()
    # The admin reaches the server through the proxy too (the target and its URL name one endpoint).
    env.monkeypatch.setenv(env.url_env, env.server.url(env.database).replace(f":{env.server.port}/",
                                                                             f":{proxy.port}/"))
    env.monkeypatch.setitem(faults.HOOKS, "between-statements", proxy.stop)  # cut after the first statement
    try:
        env.manifest(READER.format(t=env.target, q="public" if engine == "postgres" else env.database),
                     port=proxy.port)
        result = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=1)
        assert f"apply of target {env.target} failed" in result.err
        assert "lost the connection" in result.err or "server refused" in result.err or "Lost connection" in \
            result.err or "failed" in result.err
        assert "Traceback" not in result.err
        env.monkeypatch.delitem(faults.HOOKS, "between-statements")
        proxy.start()
        env.apply()
        assert env.logs_in("reader_user") and env.logs_in("writer_user")
        env.assert_converged()
    finally:
        proxy.stop()


@pytest.mark.parametrize("kind", ["throttle", "unavailable", "internal"])
def test_secrets_manager_errors_for_a_while_are_absorbed_by_retries(env, aws, kind):
    env.sql("CREATE TABLE films (id int)")
    proxy = FlakyProxy(aws.url)
    try:
        env.monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        env.manifest(READER.format(t=env.target, q="public"))
        proxy.fail_next(3, kind)
        env.cli("plan", "-f", "accounts.yaml")
        proxy.fail_next(4, kind)
        env.apply()
        assert proxy.failed == 7 and proxy.forwarded > 0
        assert env.logs_in("reader_user")
        env.assert_converged()
    finally:
        proxy.close()


def test_secrets_manager_down_longer_than_the_retries_fails_cleanly_and_the_rerun_converges(env, aws):
    env.sql("CREATE TABLE films (id int)")
    proxy = FlakyProxy(aws.url)
    try:
        env.monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        env.manifest(READER.format(t=env.target, q="public"))
        env.cli("plan", "-f", "accounts.yaml")
        proxy.fail_next(10_000, "unavailable")
        result = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=1)
        assert "ServiceUnavailableException" in result.err and "Traceback" not in result.err
        proxy.fail_next(0)
        env.apply()
        assert env.logs_in("reader_user") and env.logs_in("writer_user")
        env.assert_converged()
    finally:
        proxy.close()


def test_missing_admin_secret_is_a_clear_error(env):
    env.manifest(f"""
        version: 1
        targets:
          {env.target}:
            engine: postgres
            host: {env.server.host}
            database: {env.database}
            admin: {{secret: "rds!cluster-does-not-exist"}}
        accounts:
          - {{name: reader_user, target: {env.target}}}
        """, header=False)
    result = env.cli("plan", "-f", "accounts.yaml", expect=1)
    assert "the admin secret rds!cluster-does-not-exist does not exist" in result.err
    assert "hint:" in result.err and "Traceback" not in result.err


def test_debug_logs_and_errors_never_show_a_password(env, rotation_lambda):
    env.sql("CREATE TABLE films (id int)")
    env.manifest(READER.format(t=env.target, q="public"), admin_secret=True)
    outputs = [env.cli("apply", "--yes", "--debug", "-f", "accounts.yaml"),
               env.cli("rotate", "--debug", "reader_user", "-f", "accounts.yaml"),
               env.cli("plan", "--debug", "-f", "accounts.yaml"),
               env.cli_process("apply", "--yes", "--debug", "--reset-password", "writer_user")]
    text = "".join(o.text for o in outputs)
    assert "DEBUG" in text  # debug logging really was on
    secrets = boto3.client("secretsmanager")
    for account in ("reader_user", "writer_user"):
        for version in secrets.list_secret_version_ids(SecretId=f"{env.target}/{account}")["Versions"]:
            value = secrets.get_secret_value(SecretId=f"{env.target}/{account}", VersionId=version["VersionId"])
            assert '"password"' in value["SecretString"]
            password = __import__("json").loads(value["SecretString"])["password"]
            assert password not in text
    assert env.server.password not in text
    # a failure with --debug prints its traceback (redacted): the admin URL's password never shows
    env.monkeypatch.setenv(env.url_env, f"postgresql://dbadmin:{env.server.password}@127.0.0.1:1/x")
    env.manifest(READER.format(t=env.target, q="public"), port=1)
    failed = env.cli("plan", "--debug", "-f", "accounts.yaml", expect=1)
    assert "cannot connect to 127.0.0.1:1" in failed.err and "Traceback" in failed.err
    assert env.server.password not in failed.text
