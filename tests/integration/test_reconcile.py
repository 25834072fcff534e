"""The scheduled reconcile (SPEC 10), its handler driven in-process (moto runs no Lambda code without Docker)
against real PostgreSQL and MariaDB and moto's S3, CloudWatch and EventBridge — with a rule sending `provisioner`
events to an SQS queue, read back here: the reports, the metrics and the events are right in plan and apply
modes, a target that is down is reported without stopping the others, drift is found and corrected, no password
appears anywhere, and a warm process keeps nothing from one invocation to the next.

moto traits this works around: it delivers every PutEvents to every rule of the bus and answers 500 for Lambda
and SNS targets, so this test's bus has only its own rule, with an SQS target (the AWS stack's scheduled rule is
deployed in another region by test_aws_stack.py)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from support.recorders import ADMIN_PASSWORDS, ENDPOINT

from devtools import sandbox
from provisioner import redact
from provisioner.commands import reconcile
from provisioner.secrets.lambda_handler import redacting_logs


def _client(service: str):
    return boto3.client(service, endpoint_url=ENDPOINT[0], region_name="us-east-1")


@pytest.fixture
def bus(env):
    """The manifest bucket, and an SQS queue that receives the `provisioner` events of the default bus."""
    s3, events, sqs = _client("s3"), _client("events"), _client("sqs")
    bucket = f"manifests-{env.target}"
    s3.create_bucket(Bucket=bucket)
    queue = sqs.create_queue(QueueName=f"events-{env.target}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"provisioner-{env.target}"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["provisioner"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    yield bucket, queue
    events.remove_targets(Rule=rule, Ids=["queue"])
    events.delete_rule(Name=rule)


def _received(queue: str) -> list[dict]:
    sqs = _client("sqs")
    found = []
    for _ in range(10):  # bounded: moto delivers at once; a few empty reads end it
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def _manifest(env, menv, down_port: int) -> str:
    return f"""version: 1
targets:
  {env.target}:
    engine: postgres
    host: {env.server.host}
    port: {env.server.port}
    database: {env.database}
    admin: {{url_env: {env.url_env}}}
  {menv.target}:
    engine: mariadb
    host: {menv.server.host}
    port: {menv.server.port}
    database: {menv.database}
    admin: {{url_env: {menv.url_env}}}
  down_{env.target}:
    engine: postgres
    host: 127.0.0.2
    port: {down_port}
    database: nowhere
    admin: {{url_env: DOWN_URL}}
accounts:
  - name: reporter
    target: {env.target}
    rotation: {{strategy: none}}
    grants:
      - {{privileges: [SELECT], tables: [app.films]}}
  - name: reporter
    target: {menv.target}
    rotation: {{strategy: none}}
    grants:
      - {{privileges: [SELECT], tables: ["{menv.database}.films"]}}
  - name: reporter
    target: down_{env.target}
    grants:
      - {{privileges: [SELECT], tables: [app.films]}}
"""


def _metrics(targets: list[str]) -> dict[tuple[str, str], float]:
    cloudwatch = _client("cloudwatch")
    found = {}
    for target in targets:
        for name in ("PlannedChanges", "Errors"):
            points = cloudwatch.get_metric_statistics(
                Namespace="Provisioner", MetricName=name, Dimensions=[{"Name": "Target", "Value": target}],
                StartTime=datetime.now(timezone.utc) - timedelta(minutes=10),
                EndTime=datetime.now(timezone.utc) + timedelta(minutes=1), Period=60, Statistics=["Maximum"],
            )["Datapoints"]
            found[(target, name)] = max((p["Maximum"] for p in points), default=-1.0)
    return found


def _no_password_in(*texts: str) -> None:
    for secret in ADMIN_PASSWORDS:
        for text in texts:
            assert secret not in text


def test_reconcile_reports_drift_applies_it_and_isolates_a_target_that_is_down(env, menv, bus, monkeypatch):
    bucket, queue = bus
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int)")
    menv.sql("CREATE TABLE films (id int)")
    down_port = sandbox.free_port()
    monkeypatch.setenv("DOWN_URL", f"postgresql://admin:down-pass-1234@127.0.0.2:{down_port}/nowhere")
    monkeypatch.setenv("REPORTS_BUCKET", bucket)
    _client("s3").put_object(Bucket=bucket, Key="manifests/accounts.yaml",
                             Body=_manifest(env, menv, down_port).encode())
    event = {"manifest": f"s3://{bucket}/manifests/", "mode": "plan"}
    down = f"down_{env.target}"

    first = reconcile.lambda_handler(event, None)
    assert first["drifted"] == sorted([env.target, menv.target]) and first["failed"] == [down]
    assert first["targets"][env.target]["changes"] > 0 and "error" in first["targets"][down]
    assert not env.role_exists("reporter")  # plan mode writes nothing to the databases
    report = first["report"].removeprefix(f"s3://{bucket}/")
    markdown = _client("s3").get_object(Bucket=bucket, Key=report + "plan.md")["Body"].read().decode()
    document = _client("s3").get_object(Bucket=bucket, Key=report + "plan.json")["Body"].read().decode()
    assert env.target in markdown and json.loads(document)["kind"] == "plan"
    received = _received(queue)
    kinds = sorted((e["detail-type"], e["detail"]["target"]) for e in received)
    assert kinds == sorted([("Drift detected", env.target), ("Drift detected", menv.target),
                            ("Reconcile failed", down)])
    drift = next(e for e in received if e["detail"]["target"] == env.target)
    assert drift["source"] == "provisioner" and drift["detail"]["counts"]["add"] > 0
    assert drift["detail"]["changes"]["create_role"] == 1 and drift["detail"]["report"] == first["report"]
    metrics = _metrics([env.target, menv.target, down])
    assert metrics[(env.target, "PlannedChanges")] > 0 and metrics[(env.target, "Errors")] == 0
    assert metrics[(down, "Errors")] == 1
    _no_password_in(markdown, document, json.dumps(received), json.dumps(first))

    applied = reconcile.lambda_handler({**event, "mode": "apply"}, None)
    assert applied["failed"] == [down] and sorted(applied["drifted"]) == sorted([env.target, menv.target])
    assert env.sql("SELECT has_table_privilege('reporter', 'app.films', 'SELECT')") == [(True,)]
    assert menv.logs_in("reporter") and env.logs_in("reporter")
    assert [e["detail"]["applied"] for e in _received(queue) if e["detail-type"] == "Drift detected"] == [True, True]

    in_sync = reconcile.lambda_handler(event, None)
    assert in_sync["drifted"] == [] and in_sync["targets"][env.target]["changes"] == 0
    assert [e["detail-type"] for e in _received(queue)] == ["Reconcile failed"]

    env.sql("CREATE TABLE app.secret_stuff (id int); GRANT SELECT ON app.secret_stuff TO reporter")  # drift
    drifted = reconcile.lambda_handler(event, None)
    assert drifted["drifted"] == [env.target]
    [drift] = [e for e in _received(queue) if e["detail-type"] == "Drift detected"]
    assert drift["detail"]["counts"] == {"add": 0, "change": 0, "destroy": 1}
    reconcile.lambda_handler({**event, "mode": "apply", "targets": [env.target]}, None)
    assert env.sql("SELECT has_table_privilege('reporter', 'app.secret_stuff', 'SELECT')") == [(False,)]


def test_a_warm_process_keeps_nothing_between_invocations(env, bus, monkeypatch):
    bucket, _ = bus
    monkeypatch.setenv("REPORTS_BUCKET", bucket)
    handler = logging.StreamHandler()
    logging.getLogger().addHandler(handler)
    try:
        _client("s3").put_object(Bucket=bucket, Key="one.yaml", Body=(
            f"version: 1\ntargets:\n  {env.target}:\n    engine: postgres\n    host: {env.server.host}\n"
            f"    port: {env.server.port}\n    database: {env.database}\n    admin: {{url_env: {env.url_env}}}\n"
            f"accounts:\n  - {{name: app, target: {env.target}, rotation: {{strategy: none}}}}\n").encode())
        for round_ in range(5):
            mode = "apply" if round_ == 0 else "plan"
            result = reconcile.lambda_handler({"manifest": f"s3://{bucket}/one.yaml", "mode": mode}, None)
            assert result["failed"] == []
            assert sum(isinstance(f, redact.RedactingFilter) for f in handler.filters) == 1  # one filter, ever
            assert not redact._secrets  # no password of the last run is kept in the process
        redacting_logs()
        assert sum(isinstance(f, redact.RedactingFilter) for f in handler.filters) == 1
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize("event, says", [
    ("not an object", "not a JSON object"),
    ({"manifest": "https://example.com/accounts.yaml"}, "is not s3://bucket/prefix/"),
    ({"manifest": "s3://bucket/accounts.yaml", "mode": "destroy"}, "is not plan or apply"),
    ({"manifest": "s3://bucket/accounts.yaml", "targets": "films"}, "must be a list of target names"),
])
def test_a_bad_event_is_reported_as_a_failed_invocation(event, says, env, bus, monkeypatch):
    _, queue = bus
    result = reconcile.lambda_handler(event, None)
    assert says in result["error"] and result["failed"] == ["*"]
    [failed] = _received(queue)
    assert failed["detail-type"] == "Reconcile failed" and says in failed["detail"]["error"]


def test_an_invalid_manifest_is_a_failed_invocation_with_every_problem(env, bus, monkeypatch):
    bucket, queue = bus
    _client("s3").put_object(Bucket=bucket, Key="bad/accounts.yaml", Body=b"version: 2\n")
    result = reconcile.lambda_handler({"manifest": f"s3://{bucket}/bad/"}, None)
    assert "version" in result["error"]
    assert _received(queue)[0]["detail-type"] == "Reconcile failed"


def test_a_manifest_that_cannot_be_read_is_a_failed_invocation_naming_why(env, bus, monkeypatch):
    bucket, queue = bus
    _client("s3").put_object(Bucket=bucket, Key="latin1/accounts.yaml", Body="version: 1 # caf\xe9\n".encode("latin-1"))
    cases = [(f"s3://{bucket}/nosuch.yaml", "NoSuchKey"),
             (f"s3://no-such-bucket-{env.target}/manifests/", "NoSuchBucket"),
             (f"s3://{bucket}/latin1/", "is not UTF-8 text")]
    for uri, says in cases:
        result = reconcile.lambda_handler({"manifest": uri}, None)
        assert says in result["error"] and uri in result["error"] and result["failed"] == ["*"]
    assert [e["detail-type"] for e in _received(queue)] == ["Reconcile failed"] * len(cases)
