"""The secret store (AWS Secrets Manager): the secrets of managed accounts, their values, versions, staging
labels and tags.

Knows no SQL. Uses the standard AWS credential chain and endpoint settings (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER) and botocore's standard retry mode, which absorbs
throttling and 5xx answers with backoff. Always reads values by explicit stage (moto's default can be stale).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from provisioner import redact
from provisioner.core.conventions import ACCOUNT_TAG, MANAGED_TAG, TARGET_TAG
from provisioner.core.diff.secrets import same_kms_key
from provisioner.core.model import SecretState
from provisioner.core.secret_value import CURRENT, PENDING, version_with
from provisioner.errors import ProvisionerError
from provisioner.secrets import passwords
from provisioner.secrets.aws import SecretsError, aws_access_error, make_client, on_retry
from provisioner.secrets.values import parse_value, read_value

BATCH = 20  # BatchGetSecretValue's limit per call
# Callables (operation, params) told of every request; tests record RotateSecret's RotationRules this way.
OBSERVERS: list[Any] = []
log = logging.getLogger(__name__)

def _tag(entry: Mapping[str, Any], key: str) -> str | None:
    return next((t["Value"] for t in entry.get("Tags", []) if t["Key"] == key), None)


class SecretStore:
    """Thin, counted access to Secrets Manager for the provisioner's needs."""

    def __init__(self, client: Any = None, retry_note: Any = None) -> None:
        self._client = client
        self._retry_note = retry_note  # told of each retried call (the command line shows it on a terminal)
        self.calls = 0
        self._managed: dict[str, SecretState] | None = None
        self._values_of: frozenset[str] | None = None  # the targets whose secrets' values `_managed` holds
        self._lock = threading.RLock()  # targets are planned and applied in parallel

    def after_fork(self) -> None:
        """In a forked worker: the inherited client's connections belong to the parent, so a worker makes its
        own client on first use (and a lock no other thread of the parent can be holding)."""
        self._client = None
        self._lock = threading.RLock()

    @property
    def client(self) -> Any:
        with self._lock:
            return self._make_client()

    def _make_client(self) -> Any:
        if self._client is None:
            try:
                self._client = make_client()
            except BotoCoreError as exc:
                raise aws_access_error("cannot set up the Secrets Manager client", exc) from None
            self._client.meta.events.register("before-call.secrets-manager", self._count)
            if self._retry_note is not None:
                self._client.meta.events.register("needs-retry.secrets-manager", on_retry(self._retry_note))
            self._client.meta.events.register("before-parameter-build.secrets-manager", self._observe)
        return self._client

    def _count(self, **_: Any) -> None:
        with self._lock:
            self.calls += 1

    @staticmethod
    def _observe(params: dict[str, Any], model: Any = None, **_: Any) -> None:
        for observer in OBSERVERS:
            observer(model.name if model else "", params)

    def _call(self, operation: str, **kwargs: Any) -> Any:
        log.debug("Secrets Manager %s %s", operation, kwargs.get("SecretId") or kwargs.get("Name") or "")
        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            raise SecretsError(operation, kwargs.get("SecretId") or kwargs.get("Name"), exc) from None
        except BotoCoreError as exc:
            raise aws_access_error(f"Secrets Manager {operation} failed", exc) from None

    # ------------------------------------------------------------ reading

    def managed(self, refresh: bool = False, targets: Collection[str] | None = None) -> dict[str, SecretState]:
        """Every secret tagged as managed (one ListSecrets pass), with the AWSCURRENT values (BatchGetSecretValue,
        20 a call) of those tagged for `targets` (None: of all). A plan reads only what its targets' diff uses:
        the values of other targets' secrets on a shared account would be most of the calls."""
        wanted = None if targets is None else frozenset(targets)
        with self._lock:
            cached = self._managed is not None and (self._values_of is None or (
                wanted is not None and wanted <= self._values_of))
            if cached and not refresh:
                return self._managed  # type: ignore[return-value]
            states = self._list_managed(wanted)
            if not refresh or self._managed is None:
                self._managed, self._values_of = states, wanted
            return states

    def _list_managed(self, targets: frozenset[str] | None) -> dict[str, SecretState]:
        listed: list[dict[str, Any]] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"Filters": [{"Key": "tag-key", "Values": [MANAGED_TAG]}],
                                      "IncludePlannedDeletion": True, "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            page = self._call("list_secrets", **kwargs)
            listed.extend(page.get("SecretList", []))
            token = page.get("NextToken")
            if not token:
                break
        live = [s for s in listed if not s.get("DeletedDate") and (targets is None or _tag(s, TARGET_TAG) in targets)]
        values = self._values([s["ARN"] for s in live])
        states: dict[str, SecretState] = {}
        for entry in listed:
            tags = {t["Key"]: t["Value"] for t in entry.get("Tags", [])}
            if tags.get(MANAGED_TAG) != "true":
                continue
            value, problem = values.get(entry["ARN"], ({}, None))
            rules = entry.get("RotationRules") or {}
            stages = {k: tuple(v) for k, v in (entry.get("SecretVersionsToStages") or {}).items()}
            left = self._left_pending(entry["ARN"], stages, value) if entry["ARN"] in values and not problem else None
            states[entry["Name"]] = SecretState(
                name=entry["Name"], arn=entry["ARN"], target=tags.get(TARGET_TAG, ""),
                account=tags.get(ACCOUNT_TAG, ""), tags=tags, kms_key=entry.get("KmsKeyId"),
                description=entry.get("Description"),
                stages=stages,
                fields={k: v for k, v in value.items() if k != "password"}, has_password="password" in value,
                problem=problem, left_pending=left,
                rotation_enabled=bool(entry.get("RotationEnabled")),
                rotation_lambda=entry.get("RotationLambdaARN"), rotation_rules=dict(rules),
                deleted=bool(entry.get("DeletedDate")),
            )
        return states

    def _left_pending(self, arn: str, stages: Mapping[str, tuple[str, ...]], current: Mapping[str, Any]
                      ) -> str | None:
        """The version a rotation or a password change staged AWSPENDING and did not finish: it holds a password
        other than AWSCURRENT's (an empty version, or a copy of AWSCURRENT as moto's RotateSecret leaves, is
        none). One more call, for a secret that has such a version only."""
        version = version_with(PENDING, stages)
        if version is None or CURRENT in stages.get(version, ()):
            return None
        try:
            pending, problem = read_value(self._call("get_secret_value", SecretId=arn,
                                                     VersionId=version).get("SecretString"))
        except SecretsError:
            return None
        return version if problem is None and pending.get("password") != current.get("password") else None

    def _values(self, ids: list[str]) -> dict[str, tuple[dict[str, Any], str | None]]:
        """AWSCURRENT values by ARN, parsed, with what makes each unusable; passwords registered for redaction.
        An answer that is not the AWSCURRENT version is read again by stage: moto answers a batch (as
        GetSecretValue without a stage) with a stale version once stages have moved, and a plan must see the
        current username."""
        values: dict[str, tuple[dict[str, Any], str | None]] = {}
        for start in range(0, len(ids), BATCH):
            answer = self._call("batch_get_secret_value", SecretIdList=ids[start:start + BATCH])
            for item in answer.get("SecretValues", []):
                if CURRENT not in item.get("VersionStages", [CURRENT]):
                    item = self._call("get_secret_value", SecretId=item["ARN"], VersionStage=CURRENT)
                values[item["ARN"]] = read_value(item.get("SecretString"))
        return values

    def get_value(self, secret_id: str, stage: str = CURRENT, version: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"SecretId": secret_id}
        if version:
            kwargs["VersionId"] = version
        else:
            kwargs["VersionStage"] = stage
        answer = self._call("get_secret_value", **kwargs)
        return parse_value(answer.get("SecretString"))

    def describe(self, secret_id: str) -> dict[str, Any]:
        return self._call("describe_secret", SecretId=secret_id)

    def random_password(self, length: int, exclude_characters: str) -> str:
        """A new password, made locally as GetRandomPassword would (no AWS call: see `passwords`)."""
        password = passwords.generate(length, exclude_characters)
        redact.register(password)
        return password

    # ------------------------------------------------------------ writing

    def create(self, name: str, value: Mapping[str, Any], kms_key: str | None, description: str,
               tags: Mapping[str, str]) -> str:
        """Create the secret with its first (AWSCURRENT) value; restore and overwrite one pending deletion."""
        kwargs: dict[str, Any] = {"Name": name, "SecretString": json.dumps(value), "Description": description,
                                  "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                                  "ClientRequestToken": str(uuid.uuid4())}
        if kms_key:
            kwargs["KmsKeyId"] = kms_key
        try:
            return self._call("create_secret", **kwargs)["ARN"]
        except SecretsError as exc:
            if exc.code not in ("ResourceExistsException", "InvalidRequestException"):
                raise
            existing = self.describe(name)
            existing_tags = {t["Key"]: t["Value"] for t in existing.get("Tags", [])}
            if existing_tags.get(MANAGED_TAG) != "true":
                raise ProvisionerError(
                    f"secret {name} already exists and is not managed by provisioner",
                    "choose another secret name (secret.name) or tag that secret provisioner:managed=true "
                    "to let provisioner take it over",
                ) from None
            if existing.get("DeletedDate"):
                self._call("restore_secret", SecretId=name)
            self.put_value(name, value, [CURRENT])
            self.tag(name, tags)
            return existing["ARN"]

    def put_value(self, secret_id: str, value: Mapping[str, Any], stages: list[str],
                  token: str | None = None) -> str:
        answer = self._call("put_secret_value", SecretId=secret_id, SecretString=json.dumps(value),
                            VersionStages=stages, ClientRequestToken=token or str(uuid.uuid4()))
        return answer["VersionId"]

    def move_stage(self, secret_id: str, stage: str, to_version: str | None, from_version: str | None) -> None:
        kwargs: dict[str, Any] = {"SecretId": secret_id, "VersionStage": stage}
        if to_version:
            kwargs["MoveToVersionId"] = to_version
        if from_version:
            kwargs["RemoveFromVersionId"] = from_version
        self._call("update_secret_version_stage", **kwargs)

    def promote(self, secret_id: str, version: str, stages: Mapping[str, Iterable[str]] | None = None) -> None:
        """Make `version` AWSCURRENT (the former current becomes AWSPREVIOUS) and clear its AWSPENDING.
        `stages`: the secret's VersionIdsToStages where the caller knows them (else they are read)."""
        if stages is None:
            stages = self.describe(secret_id).get("VersionIdsToStages", {})
        current = version_with(CURRENT, stages)
        if current != version:
            self.move_stage(secret_id, CURRENT, version, current)
        if PENDING in stages.get(version, []):
            self.move_stage(secret_id, PENDING, None, version)

    def tag(self, secret_id: str, tags: Mapping[str, str]) -> None:
        self._call("tag_resource", SecretId=secret_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def untag(self, secret_id: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            self._call("untag_resource", SecretId=secret_id, TagKeys=keys)

    def update(self, secret_id: str, description: str | None = None, kms_key: str | None = None) -> None:
        kwargs: dict[str, Any] = {"SecretId": secret_id}
        if description is not None:
            kwargs["Description"] = description
        if kms_key is not None:
            kwargs["KmsKeyId"] = kms_key
        self._call("update_secret", **kwargs)

    def configure_rotation(self, secret_id: str, function: str, rules: Mapping[str, object],
                           rotate_immediately: bool) -> None:
        self._call("rotate_secret", SecretId=secret_id, RotationLambdaARN=function, RotationRules=dict(rules),
                   RotateImmediately=rotate_immediately)

    def cancel_rotation(self, secret_id: str) -> None:
        self._call("cancel_rotate_secret", SecretId=secret_id)

    def delete(self, secret_id: str, recovery_days: int) -> None:
        """Schedule the deletion; replicas go first (Secrets Manager refuses to delete a replicated secret)."""
        regions = list(self.replication(secret_id))
        if regions:
            self._call("remove_regions_from_replication", SecretId=secret_id, RemoveReplicaRegions=regions)
        self._call("delete_secret", SecretId=secret_id, RecoveryWindowInDays=recovery_days)

    def replication(self, secret_id: str) -> dict[str, tuple[str, str]]:
        """The secret's replicas: region -> (KMS key there, status: InSync, InProgress or Failed and why)."""
        return replicas_of(self.describe(secret_id))

    def replicate(self, secret_id: str, wanted: Mapping[str, str]) -> tuple[list[str], list[str]]:
        """Make the replicas those of `wanted` (region -> KMS key, '' for the AWS managed key), from what the
        secret has now: regions no longer wanted, with another key or whose replication failed are removed, and
        what is missing then added. Returns (added, removed)."""
        current = self.replication(secret_id)
        removed = sorted(region for region, (kms, status) in current.items()
                         if region not in wanted or not same_kms_key(wanted[region] or None, kms)
                         or status.startswith("Failed"))
        added = sorted(region for region in wanted if region not in current or region in removed)
        if removed:
            self._call("remove_regions_from_replication", SecretId=secret_id, RemoveReplicaRegions=removed)
        if added:
            regions = [{"Region": r, **({"KmsKeyId": wanted[r]} if wanted[r] else {})} for r in added]
            self._call("replicate_secret_to_regions", SecretId=secret_id, AddReplicaRegions=regions,
                       ForceOverwriteReplicaSecret=False)
        return added, removed


def replicas_of(description: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """A DescribeSecret answer's replicas: region -> (KMS key there, status: InSync, InProgress, or Failed and
    why)."""
    found = {}
    for entry in description.get("ReplicationStatus") or ():
        status = str(entry.get("Status", ""))
        if status == "Failed" and entry.get("StatusMessage"):
            status = f"Failed: {entry['StatusMessage']}"
        found[str(entry["Region"])] = (str(entry.get("KmsKeyId") or ""), status)
    return found
