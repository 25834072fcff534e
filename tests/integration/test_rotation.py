"""Rotation against real PostgreSQL and moto: configuration on the secret, the four steps for both
strategies (CLI and Lambda handler), faults after every step, and the connect helper under rotation."""

from __future__ import annotations

import json
import threading
import time
import uuid

import boto3
import psycopg
import pytest
from support.tcp_proxy import TcpProxy

import provisioner
from provisioner import client as connect_helper
from provisioner.core import schedule
from provisioner.core.model import RotationSettings
from provisioner.rotation import lambda_handler
from provisioner.secrets import store as secrets_manager

SEED = """
CREATE TABLE public.films (id serial PRIMARY KEY, title text NOT NULL);
CREATE TABLE public.rentals (id serial PRIMARY KEY, film_id int);
INSERT INTO public.films (title) VALUES ('Metropolis');
"""


def account(env, strategy: str, function: str | None = None, extra: str = "") -> str:
    rotation = f"{{strategy: {strategy}" + (f", schedule: rate(30 days), window: 4h, function: {function}"
                                            if function else "") + "}"
    return f"""
accounts:
  - name: app_user
    target: {env.target}
    rotation: {rotation}
    grants:
      - {{privileges: [SELECT, INSERT], tables: [public.films]}}
      - {{privileges: [USAGE], sequences: [public.films_id_seq]}}{extra}
"""


@pytest.fixture
def seeded(env):
    env.sql(SEED)
    return env


def stages(env) -> dict[str, list[str]]:
    return env.describe("app_user")["VersionIdsToStages"]


def table_privileges(env, user: str) -> set[tuple[str, str]]:
    rows = env.sql("""SELECT t.table_name, p.priv FROM information_schema.tables t,
                      unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE']) p(priv)
                      WHERE t.table_schema = 'public' AND has_table_privilege(%s, 'public.' || t.table_name, p.priv)""",
                   (user,))
    return set(rows)


# ---------------------------------------------------------------- configuration


def test_rotation_rules_are_sent_and_never_show_a_perpetual_diff(seeded, rotation_lambda):
    env = seeded
    requests: list[tuple[str, dict]] = []
    secrets_manager.OBSERVERS.append(lambda op, params: requests.append((op, dict(params))))
    try:
        env.manifest(account(env, "single", rotation_lambda))
        plan = env.cli("plan")
        assert "rotation by " + rotation_lambda in plan.out and "ScheduleExpression=rate(30 days)" in plan.out
        env.apply()
        [rotate] = [params for op, params in requests if op == "RotateSecret"]
        assert rotate["RotationLambdaARN"] == rotation_lambda
        assert rotate["RotationRules"] == {"ScheduleExpression": "rate(30 days)", "Duration": "4h"}
        assert rotate["RotateImmediately"] is False
        env.assert_converged()  # moto drops ScheduleExpression and Duration: the fingerprint tag stands in

        env.manifest(account(env, "single", rotation_lambda).replace("rate(30 days)", "\"cron(0 4 1 * ? *)\""))
        requests.clear()
        plan = env.cli("plan", "--detailed-exitcode", expect=2)
        assert "ScheduleExpression=cron(0 4 1 * ? *)" in plan.out
        env.apply()
        [rotate] = [params for op, params in requests if op == "RotateSecret"]
        assert rotate["RotationRules"]["ScheduleExpression"] == "cron(0 4 1 * ? *)"
        env.assert_converged()

        env.manifest(account(env, "single"))  # no function: no Lambda rotation on the secret
        assert "disable rotation" in env.cli("plan").out
    finally:
        secrets_manager.OBSERVERS.clear()


def test_schedules_compare_semantically():
    settings = RotationSettings(strategy="single", schedule="rate(30 days)", window="4h",
                                function="arn:aws:lambda:us-east-1:123456789012:function:f")
    fn = settings.function
    # What AWS reports for a secret configured with rate(30 days) or with AutomaticallyAfterDays=30
    assert schedule.in_sync(settings, True, fn, {"ScheduleExpression": "rate(30 days)", "Duration": "4h",
                                                 "AutomaticallyAfterDays": 30}, None)
    assert schedule.in_sync(settings, True, fn, {"AutomaticallyAfterDays": 30, "Duration": "4h"}, None)
    assert schedule.in_sync(settings, True, fn, {"ScheduleExpression": "rate(720 hours)", "Duration": "4h"}, None)
    assert not schedule.in_sync(settings, True, fn, {"AutomaticallyAfterDays": 7, "Duration": "4h"}, None)
    assert not schedule.in_sync(settings, True, fn + "x", {"AutomaticallyAfterDays": 30}, None)
    # a rotation cancelled on AWS keeps its rules but reports disabled: drift, even with the fingerprint
    assert not schedule.in_sync(settings, False, fn, {"ScheduleExpression": "rate(30 days)"},
                                schedule.fingerprint(settings))
    # moto reports nothing after a ScheduleExpression: the fingerprint decides
    assert schedule.in_sync(settings, False, fn, {"AutomaticallyAfterDays": 0}, schedule.fingerprint(settings))
    assert not schedule.in_sync(settings, False, fn, {"AutomaticallyAfterDays": 0}, "0" * 16)
    assert schedule.parse("30") == schedule.parse("rate(30 days)") == schedule.parse("rate(720 hours)")
    for bad in ("rate(2 hours)", "cron(5 4 * * ? *)", "cron(0 */2 * * ? *)", "rate(0 days)", "every day"):
        with pytest.raises(schedule.ScheduleError):
            schedule.parse(bad)
    assert schedule.parse("cron(0 0,12 * * ? *)").cron == "0 0,12 * * ? *"


def test_rotation_validation_errors(env, tmp_path):
    env.manifest(account(env, "alternating") + "\n  - {name: b, target: " + env.target +
                 ", rotation: {schedule: rate(2 hours)}}\n")
    result = env.cli("validate", "-f", "accounts.yaml", expect=1)
    assert "uses alternating rotation, but target" in result.err and "masterarn" in result.err
    assert "shorter than AWS's minimum interval of 4 hours" in result.err
    env.manifest(account(env, "alternating").replace("app_user", "a" * 58), admin_secret=True)
    result = env.cli("validate", "-f", "accounts.yaml", expect=1)
    assert "alternating rotation needs the user" in result.err and "at most 57" in result.err


# ---------------------------------------------------------------- single user


def test_single_user_rotates_three_times(seeded):
    env = seeded
    env.manifest(account(env, "single"))
    env.apply()
    seen = [env.secret("app_user")["password"]]
    for _ in range(3):
        result = env.cli("rotate", "app_user")
        assert "createSecret" in result.out and "finishSecret" in result.out
        now = env.secret("app_user")
        assert now["username"] == "app_user" and now["password"] not in seen
        assert env.logs_in("app_user")
        assert env.secret("app_user", "AWSPREVIOUS")["password"] == seen[-1]
        with pytest.raises(psycopg.OperationalError):
            env.connect_as("app_user", seen[-1])
        seen.append(now["password"])
        assert not any("AWSPENDING" in s for s in stages(env).values())
    env.assert_converged()


# ---------------------------------------------------------------- alternating users


def test_alternating_users_rotate_three_times_with_identical_grants(seeded):
    env = seeded
    env.manifest(account(env, "alternating"), admin_secret=True)
    env.apply()
    secret = env.secret("app_user")
    assert (secret["username"] == "app_user" and secret["masterarn"].endswith(f"rds!cluster-{env.target}")) or \
        ":secret:rds!cluster-" in secret["masterarn"]
    assert table_privileges(env, "app_user") == table_privileges(env, "app_user_clone") == {
        ("films", "SELECT"), ("films", "INSERT")}
    users = ["app_user"]
    for _ in range(3):
        env.cli("rotate", "app_user")
        current = env.secret("app_user")
        users.append(current["username"])
        assert env.logs_in("app_user") and env.logs_in("app_user", "AWSPREVIOUS")
        assert env.secret("app_user", "AWSPREVIOUS")["username"] == users[-2]
    assert users == ["app_user", "app_user_clone", "app_user", "app_user_clone"]
    env.assert_converged()

    # the file drops INSERT: both users lose it
    env.manifest(account(env, "alternating").replace("[SELECT, INSERT]", "[SELECT]"), admin_secret=True)
    env.apply()
    assert table_privileges(env, "app_user") == table_privileges(env, "app_user_clone") == {("films", "SELECT")}
    env.assert_converged()


def test_objects_created_by_the_clone_stay_usable_by_the_original(seeded):
    env = seeded
    env.sql("CREATE SCHEMA work")
    env.manifest(account(env, "alternating", extra="\n      - {privileges: [USAGE, CREATE], schemas: [work]}"),
                 admin_secret=True)
    env.apply()
    env.cli("rotate", "app_user")  # the secret now names app_user_clone
    clone = env.secret("app_user")
    assert clone["username"] == "app_user_clone"
    with env.connect_as(clone["username"], clone["password"]) as conn:
        conn.execute("CREATE TABLE work.made_by_clone (id int)")
        conn.execute("INSERT INTO work.made_by_clone VALUES (1)")
    original = env.secret("app_user", "AWSPREVIOUS")
    assert original["username"] == "app_user"
    with env.connect_as(original["username"], original["password"]) as conn:
        assert conn.execute("SELECT id FROM work.made_by_clone").fetchall() == [(1,)]
        conn.execute("DROP TABLE work.made_by_clone")
    owner = env.sql("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'films'")
    assert owner == [("dbadmin",)]


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_killed_after_each_step_leaves_awscurrent_working_and_the_next_rotation_succeeds(seeded, strategy):
    env = seeded
    env.manifest(account(env, strategy), admin_secret=strategy == "alternating")
    env.apply()
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        killed = env.cli_process("rotate", "app_user", env={"PROVISIONER_FAULT": f"after-{step}"}, expect=None)
        assert killed.code == -9, killed.text
        if strategy == "alternating" or step in ("createSecret", "finishSecret"):
            assert env.logs_in("app_user"), f"AWSCURRENT fails after a kill after {step}"
        else:
            # single user between setSecret and finishSecret: the database has the pending password
            assert env.logs_in("app_user", "AWSPENDING")
        env.cli("rotate", "app_user")
        assert env.logs_in("app_user")
        assert not any("AWSPENDING" in s for s in stages(env).values())
    env.assert_converged()


def test_database_unreachable_during_rotation(seeded):
    env = seeded
    proxy = TcpProxy(env.server.host, env.server.port).start()
    try:
        env.manifest(account(env, "single"), port=proxy.port)
        env.monkeypatch.setenv(env.url_env, env.server.url(env.database).replace(f":{env.server.port}/",
                                                                                 f":{proxy.port}/"))
        env.apply()
        before = env.secret("app_user")
        proxy.stop()
        failed = env.cli("rotate", "app_user", expect=1)
        assert "rotation of" in failed.err and "failed" in failed.err
        assert env.secret("app_user")["password"] == before["password"]
        with env.connect_as("app_user", before["password"]) as conn:  # directly, not through the proxy
            conn.execute("SELECT 1")
        proxy.start()
        env.cli("rotate", "app_user")
        after = env.secret("app_user")
        assert after["password"] != before["password"]
        with env.connect_as("app_user", after["password"]) as conn:
            conn.execute("SELECT 1")
    finally:
        proxy.stop()


# ---------------------------------------------------------------- the Lambda handler


@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_lambda_handler_driven_by_secrets_manager_events(seeded, rotation_lambda, strategy):
    env = seeded
    env.manifest(account(env, strategy), admin_secret=strategy == "alternating")
    env.apply()
    secret_id = f"{env.target}/app_user"
    sm = boto3.client("secretsmanager")
    event = {"SecretId": secret_id, "ClientRequestToken": str(uuid.uuid4()), "Step": "createSecret"}
    with pytest.raises(Exception, match="rotation is not enabled"):
        lambda_handler(event, None)
    users = []
    for _ in range(3):
        # What Secrets Manager does when rotation starts: enable it, stage a new version AWSPENDING, invoke.
        sm.rotate_secret(SecretId=secret_id, RotationLambdaARN=rotation_lambda,
                         RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
        token = next(v for v, s in stages(env).items() if "AWSPENDING" in s and "AWSCURRENT" not in s)
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            lambda_handler({"SecretId": secret_id, "ClientRequestToken": token, "Step": step}, None)
        lambda_handler({"SecretId": secret_id, "ClientRequestToken": token, "Step": "finishSecret"}, None)
        assert "AWSCURRENT" in stages(env)[token]
        assert env.logs_in("app_user")
        users.append(env.secret("app_user")["username"])
    if strategy == "alternating":
        assert users == ["app_user_clone", "app_user", "app_user_clone"]
        assert env.logs_in("app_user", "AWSPREVIOUS")
    else:
        assert users == ["app_user"] * 3
    with pytest.raises(Exception, match="does not exist"):
        lambda_handler({"SecretId": secret_id, "ClientRequestToken": str(uuid.uuid4()), "Step": "setSecret"}, None)


# ---------------------------------------------------------------- the connect helper


@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_connect_helper_keeps_queries_running_across_rotations(seeded, strategy):
    env = seeded
    env.manifest(account(env, strategy), admin_secret=strategy == "alternating")
    env.apply()
    secret_id = f"{env.target}/app_user"
    connect_helper.invalidate()
    stop = threading.Event()
    counts = {"ok": 0, "errors": 0}
    errors: list[str] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                with provisioner.connect(secret_id, ttl=60, connect_timeout=5) as conn:
                    conn.execute("SELECT count(*) FROM public.films").fetchone()
                counts["ok"] += 1
            except Exception as exc:
                counts["errors"] += 1
                errors.append(repr(exc))

    worker = threading.Thread(target=loop)
    worker.start()
    try:
        for _ in range(3):
            time.sleep(0.3)
            env.cli("rotate", "app_user")
        time.sleep(0.3)
    finally:
        stop.set()
        worker.join()
    print(f"connect helper ({strategy}): {counts['ok']} queries, {counts['errors']} errors across 3 rotations")
    assert counts["errors"] == 0, errors[:3]
    assert counts["ok"] > 20


def test_secret_json_carries_masterarn_only_for_alternating(seeded):
    env = seeded
    env.manifest(account(env, "single"), admin_secret=True)
    env.apply()
    assert "masterarn" not in env.secret("app_user")
    assert json.loads(json.dumps(env.secret("app_user")))["engine"] == "postgres"


def test_rotate_all_in_parallel_rotates_every_account_once_with_grouped_output(seeded):
    env = seeded
    names = [f"svc_{i}" for i in range(6)]
    env.manifest("accounts:\n" + "".join(
        f"  - {{name: {n}, target: {env.target}, rotation: {{strategy: {'alternating' if i % 3 == 0 else 'single'}}},"
        f" grants: [{{privileges: [SELECT], tables: [public.films]}}]}}\n" for i, n in enumerate(names)),
        admin_secret=True)
    env.apply()
    before = {n: env.secret(n)["password"] for n in names}
    result = env.cli("rotate", "-f", "accounts.yaml", "--all", "--parallelism", "4")
    # each account's lines stay together, in manifest order
    starts = [line.split()[1] for line in result.out.splitlines() if line.startswith("rotating ")]
    assert starts == [f"{env.target}/{n}" for n in names]
    blocks = result.out.split("rotating ")[1:]
    assert all(block.rstrip().splitlines()[-1].strip().startswith("done:") for block in blocks), result.out
    for n in names:
        assert env.secret(n)["password"] != before[n] and env.logs_in(n)
    env.assert_converged()


def test_rotate_costs_six_secrets_manager_calls_and_still_runs_the_four_steps(seeded):
    """`rotate` keeps what it read between the steps: describe, GetSecretValue, PutSecretValue, the describe
    under the lock, and the two stage moves."""
    env = seeded
    env.manifest(account(env, "single"))
    env.apply()
    old = env.secret("app_user")["password"]
    calls: list[str] = []
    secrets_manager.OBSERVERS.append(lambda op, params: calls.append(op))
    try:
        out = env.cli("rotate", "-f", "accounts.yaml", "app_user").out
    finally:
        secrets_manager.OBSERVERS.clear()
    assert [line.split()[0] for line in out.splitlines()[1:5]] == [
        "createSecret", "setSecret", "testSecret", "finishSecret"], out
    assert sorted(calls) == sorted(["DescribeSecret", "GetSecretValue", "PutSecretValue", "DescribeSecret",
                                    "UpdateSecretVersionStage", "UpdateSecretVersionStage"]), calls
    assert env.secret("app_user", "AWSPREVIOUS")["password"] == old != env.secret("app_user")["password"]
    assert not env.has_stage("app_user", "AWSPENDING")
    assert env.logs_in("app_user")
    # the stages shown after finishSecret are the ones the service holds
    shown = out.splitlines()[4].split("versions ")[1]
    held = {v[:8]: "+".join(s) for v, s in stages(env).items() if s}  # unlabelled versions are not shown
    assert shown == "; ".join(f"{k}: {v}" for k, v in held.items())
    assert all(part.split(": ")[1] for part in shown.split("; ")), shown  # never an empty label field


def test_a_rotation_waits_for_an_apply_holding_the_target_lock(seeded):
    """Rotations share the target lock with each other, never with an apply: the password does not change
    while an apply holds it."""
    from provisioner.engines.postgres.session import lock_key

    env = seeded
    env.manifest(account(env, "single"))
    env.apply()
    old = env.secret("app_user")["password"]
    holder = psycopg.connect(env.server.url(env.database), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (lock_key(env.target),))
    done: list[int] = []
    rotation = threading.Thread(target=lambda: done.append(
        env.cli("rotate", "-f", "accounts.yaml", "app_user").code))
    rotation.start()
    try:
        time.sleep(2)
        assert not done, "the rotation went ahead while an apply held the lock"
        with env.connect_as("app_user", old):
            pass  # AWSCURRENT still logs in: setSecret has not run
        assert env.has_stage("app_user", "AWSPENDING")  # createSecret has
    finally:
        holder.execute("SELECT pg_advisory_unlock(%s)", (lock_key(env.target),))
        holder.close()
        rotation.join(timeout=60)
    assert done == [0]
    assert env.secret("app_user")["password"] != old and env.logs_in("app_user")


def test_the_managed_secrets_read_sees_the_current_username_after_rotations(seeded):
    """BatchGetSecretValue names no stage; an answer that is not AWSCURRENT (moto's, once stages have moved)
    is read again by stage, so a plan sees the user an alternating account logs in as now."""
    from provisioner.secrets.store import SecretStore

    env = seeded
    env.manifest(account(env, "alternating"), admin_secret=True)
    env.apply()
    for _ in range(2):
        env.cli("rotate", "-f", "accounts.yaml", "app_user")
        current = env.secret("app_user")["username"]
        read = SecretStore().managed(refresh=True)[f"{env.target}/app_user"].fields["username"]
        assert read == current
    env.assert_converged()
