"""The scheduled reconcile (SPEC 10), run inside the account by the AWS stack's Lambda (published as
`provisioner.reconcile.lambda_handler`): the manifest read from S3 with the command line's loader and validation,
every target planned (or applied, with the same lock and crash-safe protocol), the reports written to S3, the
metric `Provisioner`/`PlannedChanges` (dimension `Target`; and one without, for the stack's alarm) and `Errors`
put to CloudWatch, one EventBridge event per drifted or failed target. A target that fails is reported without
stopping the others. Nothing is kept from one invocation to the next (a warm container reuses the process).
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from provisioner import redact, render
from provisioner.core.diff import DiffOptions
from provisioner.core.model import Manifest
from provisioner.core.plan import Plan, TargetPlan
from provisioner.errors import ProvisionerError, ValidationError
from provisioner.manifest import load_sources
from provisioner.secrets.aws import aws_session, error_code, retry_config
from provisioner.secrets.lambda_handler import redacting_logs
from provisioner.secrets.store import SecretStore

log = logging.getLogger(__name__)
NAMESPACE = "Provisioner"
SOURCE = "provisioner"
MODES = ("plan", "apply")
MANIFEST_SUFFIXES = (".yaml", ".yml")


class ReconcileError(ProvisionerError):
    """The invocation itself cannot run: its event, or the manifest it names."""


@dataclass(frozen=True)
class Request:
    bucket: str
    key: str  # a file, or a prefix ending with /
    mode: str
    targets: tuple[str, ...] | None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_event(event: Any) -> Request:
    """The event: {"manifest": "s3://bucket/prefix/" | "s3://bucket/file.yaml", "mode": "plan" | "apply",
    "targets": [...]} (mode default plan, targets default all)."""
    if not isinstance(event, dict):
        raise ReconcileError(f"the reconcile event is {type(event).__name__}, not a JSON object",
                             'invoke it with {"manifest": "s3://bucket/manifests/", "mode": "plan"}')
    uri = event.get("manifest")
    parsed = urlparse(uri) if isinstance(uri, str) else None
    if parsed is None or parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ReconcileError(f"the event's manifest {str(uri)[:200]!r} is not s3://bucket/prefix/ or "
                             f"s3://bucket/file.yaml", "name the manifest's S3 location in `manifest`")
    mode = event.get("mode", "plan")
    if mode not in MODES:
        raise ReconcileError(f"the event's mode {str(mode)[:40]!r} is not plan or apply",
                             "plan (the default) reports drift; apply corrects it")
    targets = event.get("targets")
    if targets is not None and (not isinstance(targets, list) or not all(isinstance(t, str) for t in targets)):
        raise ReconcileError("the event's targets must be a list of target names", "or leave it out: every target")
    return Request(parsed.netloc, parsed.path.lstrip("/"), mode, tuple(targets) if targets is not None else None)


@dataclass
class Clients:
    """The AWS clients of one invocation (made afresh each time: credentials are the function's role's)."""

    s3: Any
    cloudwatch: Any
    events: Any

    @classmethod
    def make(cls) -> Clients:
        session = aws_session()
        config = retry_config()
        return cls(session.client("s3", config=config), session.client("cloudwatch", config=config),
                   session.client("events", config=config))


def read_manifest(s3: Any, request: Request) -> list[tuple[str, str]]:
    """(s3 URI, text) of the manifest file, or of every *.yaml/*.yml under the prefix, in key order. A location
    that cannot be read (no such bucket or key, access denied, not UTF-8) fails the invocation with its reason."""
    try:
        return _read_manifest(s3, request)
    except ClientError as exc:
        raise ReconcileError(f"cannot read the manifest at {request.uri}: {error_code(exc) or 'S3 error'}",
                             "check the event's manifest location and the function role's s3:GetObject and "
                             "s3:ListBucket on it") from None
    except BotoCoreError as exc:
        raise ReconcileError(f"cannot read the manifest at {request.uri}: {redact.redact(str(exc))[:300]}",
                             "check the network path to S3 (a VPC endpoint or NAT)") from None
    except UnicodeDecodeError as exc:
        raise ReconcileError(f"the manifest at {request.uri} is not UTF-8 text (byte {exc.start})",
                             "upload the YAML files as UTF-8") from None


def _read_manifest(s3: Any, request: Request) -> list[tuple[str, str]]:
    if not request.key.endswith("/"):
        keys = [request.key]
    else:
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=request.bucket, Prefix=request.key):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(MANIFEST_SUFFIXES)]
        if not keys:
            raise ReconcileError(f"no *.yaml manifest under {request.uri}", "upload the manifests there")
    sources = []
    for key in sorted(keys):
        body = s3.get_object(Bucket=request.bucket, Key=key)["Body"].read()
        sources.append((f"s3://{request.bucket}/{key}", body.decode("utf-8")))
    return sources


@dataclass
class Outcome:
    """What one invocation found and did."""

    plan: Plan
    failures: dict[str, str] = field(default_factory=dict)  # target -> why it failed
    report: str = ""  # the reports' key prefix


def reconcile(manifest: Manifest, request: Request, store: SecretStore, now: datetime) -> Outcome:
    """Plan or apply every requested target; each target's failure is recorded, never raised."""
    from provisioner.pipeline.apply import apply_all
    from provisioner.pipeline.planning import build_plan

    options = DiffOptions(now=now)
    if request.mode == "plan":
        plan = build_plan(manifest, request.targets, store, options)
        return Outcome(plan, {t.target: "; ".join(t.errors) for t in plan.targets if t.errors})
    applied: list[TargetPlan] = []
    result = apply_all(manifest, request.targets, store, options, parallelism=4, on_plan=applied.append)
    failures = {name: str(exc) for name, exc in result.failed.items()}
    shown = {t.target: t for t in applied}
    for name in failures:
        shown.setdefault(name, TargetPlan(name, manifest.targets[name].engine, errors=[failures[name]]))
    return Outcome(Plan([shown[name] for name in sorted(shown)]), failures)


def write_reports(s3: Any, bucket: str, outcome: Outcome, now: datetime) -> str:
    """The markdown and JSON reports under reports/<timestamp>/; the prefix."""
    prefix = f"reports/{now.strftime('%Y-%m-%dT%H-%M-%SZ')}/"
    markdown = redact.redact(render.markdown(outcome.plan))
    document = redact.redact(render.as_json(outcome.plan))
    s3.put_object(Bucket=bucket, Key=prefix + "plan.md", Body=markdown.encode(), ContentType="text/markdown")
    s3.put_object(Bucket=bucket, Key=prefix + "plan.json", Body=document.encode(), ContentType="application/json")
    return prefix


def _metric_data(outcome: Outcome, now: datetime) -> list[dict[str, Any]]:
    data = []
    for target in outcome.plan.targets:
        dimensions = [{"Name": "Target", "Value": target.target}]
        data.append({"MetricName": "PlannedChanges", "Dimensions": dimensions, "Timestamp": now,
                     "Value": float(len(target.steps)), "Unit": "Count"})
        data.append({"MetricName": "Errors", "Dimensions": dimensions, "Timestamp": now,
                     "Value": 1.0 if target.target in outcome.failures else 0.0, "Unit": "Count"})
    # The totals, without a dimension: what the stack's alarms watch (an alarm cannot search dimensions).
    data.append({"MetricName": "PlannedChanges", "Timestamp": now, "Unit": "Count",
                 "Value": float(sum(len(t.steps) for t in outcome.plan.targets))})
    data.append({"MetricName": "Errors", "Timestamp": now, "Unit": "Count", "Value": float(len(outcome.failures))})
    return data


def put_metrics(cloudwatch: Any, outcome: Outcome, now: datetime) -> None:
    data = _metric_data(outcome, now)
    for start in range(0, len(data), 500):  # PutMetricData takes up to 1,000 values a call
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start:start + 500])


def events(outcome: Outcome, mode: str, bucket: str) -> Iterator[dict[str, Any]]:
    """One event per drifted target (`Drift detected`) and per failed one (`Reconcile failed`)."""
    for target in outcome.plan.targets:
        if target.target in outcome.failures:
            detail: dict[str, Any] = {"target": target.target, "mode": mode,
                                      "error": outcome.failures[target.target][:2000],
                                      "report": f"s3://{bucket}/{outcome.report}"}
            yield {"Source": SOURCE, "DetailType": "Reconcile failed", "Detail": redact.redact(json.dumps(detail))}
        elif target.steps:
            kinds = Counter(step.change.type_name for step in target.steps)
            detail = {"target": target.target, "mode": mode, "applied": mode == "apply",
                      "counts": target.counts(), "changes": dict(sorted(kinds.items())),
                      "report": f"s3://{bucket}/{outcome.report}"}
            yield {"Source": SOURCE, "DetailType": "Drift detected", "Detail": redact.redact(json.dumps(detail))}


def put_events(client: Any, entries: list[dict[str, Any]]) -> None:
    for start in range(0, len(entries), 10):  # PutEvents takes up to 10 entries a call
        answer = client.put_events(Entries=entries[start:start + 10])
        if answer.get("FailedEntryCount"):
            log.warning("EventBridge refused %s of %s events", answer["FailedEntryCount"],
                        len(entries[start:start + 10]))


def summary(request: Request, outcome: Outcome, bucket: str) -> dict[str, Any]:
    return {"mode": request.mode, "manifest": request.uri, "report": f"s3://{bucket}/{outcome.report}",
            "targets": {t.target: {"changes": len(t.steps), "counts": t.counts(),
                                   **({"error": outcome.failures[t.target]} if t.target in outcome.failures
                                      else {})} for t in outcome.plan.targets},
            "drifted": sorted(t.target for t in outcome.plan.targets if t.steps and t.target not in outcome.failures),
            "failed": sorted(outcome.failures)}


def handle(event: Any, clients: Clients, now: datetime) -> dict[str, Any]:
    """One invocation: the summary it returns (a failure of the invocation itself is reported as one too)."""
    try:
        request = parse_event(event)
    except ReconcileError as exc:
        return _invocation_failed(clients, str(exc), "", now)
    bucket = os.environ.get("REPORTS_BUCKET") or request.bucket
    try:
        manifest = load_sources(read_manifest(clients.s3, request))
        outcome = reconcile(manifest, request, SecretStore(), now)
    except (ValidationError, ProvisionerError) as exc:
        return _invocation_failed(clients, redact.redact(str(exc)), bucket, now)
    outcome.report = write_reports(clients.s3, bucket, outcome, now)
    put_metrics(clients.cloudwatch, outcome, now)
    put_events(clients.events, list(events(outcome, request.mode, bucket)))
    return summary(request, outcome, bucket)


def _invocation_failed(clients: Clients, why: str, bucket: str, now: datetime) -> dict[str, Any]:
    """The event or the manifest is wrong: no target ran. Reported as an error metric and event all the same."""
    log.error("reconcile failed: %s", why)
    clients.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[
        {"MetricName": "Errors", "Timestamp": now, "Unit": "Count", "Value": 1.0}])
    detail = {"target": None, "error": why[:2000]}
    put_events(clients.events, [{"Source": SOURCE, "DetailType": "Reconcile failed",
                                 "Detail": redact.redact(json.dumps(detail))}])
    return {"error": why, "report": f"s3://{bucket}/" if bucket else None, "targets": {}, "drifted": [],
            "failed": ["*"]}


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Entry point of the reconcile function (EventBridge schedule or a direct invocation)."""
    logging.getLogger().setLevel(logging.INFO)
    redacting_logs()
    try:
        return handle(event, Clients.make(), datetime.now(timezone.utc))
    finally:
        redact.forget()  # a warm container keeps no password of this run
