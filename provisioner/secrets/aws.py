"""AWS access as the tool uses it: the standard credential chain and endpoint settings (AWS_PROFILE, AWS_REGION or
AWS_DEFAULT_REGION, AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER), botocore's standard retry mode, and AWS
failures as errors that say how to fix them. Shared by the secret store, doctor and the reconcile handler."""

from __future__ import annotations

import functools
import os
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from provisioner import redact
from provisioner.errors import ProvisionerError

MAX_ATTEMPTS = 6  # throttling and 5xx bursts are absorbed; a dead endpoint fails within seconds, not minutes


# botocore's session, loaders and config are imported when the first client is made: `validate` and
# `diff` never make one.
@functools.cache
def retry_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS}, connect_timeout=10, read_timeout=30)


@functools.cache
def _data_loader() -> Any:
    """One botocore data loader per process: it caches the parsed service models, which every new session would
    otherwise read and parse again for each client."""
    import botocore.loaders

    return botocore.loaders.create_loader()


class AwsSession:
    """The standard credential chain and endpoint settings, with the region from AWS_REGION or AWS_DEFAULT_REGION
    (botocore reads only the second; SPEC 4 promises both, AWS_REGION first as the AWS SDKs and Lambda set it).

    botocore's own session rather than boto3's wrapper of it: the clients are the same, and importing boto3 adds
    s3transfer and its resources layer to every command, for nothing it uses."""

    def __init__(self) -> None:
        import botocore.session

        self.region_name = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
        self._core = botocore.session.get_session()
        self._core.register_component("data_loader", _data_loader())

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._core.create_client(service, region_name=self.region_name, **kwargs)


def aws_session() -> AwsSession:
    """A fresh session (credentials and region are read when it is made), sharing the model cache."""
    return AwsSession()


def make_client(**kwargs: Any) -> Any:
    return aws_session().client("secretsmanager", config=retry_config(), **kwargs)


class AwsAccessError(ProvisionerError):
    """AWS cannot be reached or used as configured (region, credentials, endpoint): the same for every call, so
    commands stop rather than retry or resume."""


def aws_access_error(what: str, exc: BotoCoreError) -> AwsAccessError:
    """A botocore failure as a clear message with the hint that fixes it."""
    text = redact.redact(str(exc))
    if isinstance(exc, NoRegionError):
        hint = "set AWS_REGION (or AWS_DEFAULT_REGION), or use an AWS_PROFILE that has a region"
    elif isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        hint = ("no AWS credentials were found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or run where an instance, task or OIDC role provides them")
    elif isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        hint = ("the Secrets Manager endpoint did not answer: check the network path (VPC endpoint, proxy, "
                "security groups) and AWS_ENDPOINT_URL if you set one")
    else:
        hint = "check AWS_REGION, credentials and the endpoint"
    return AwsAccessError(f"{what}: {text}", hint)


def on_retry(note: Any) -> Any:
    """A botocore `needs-retry` handler that tells `note` (a one-line message) each time a call is retried."""

    def handler(attempts: int = 0, response: Any = None, caught_exception: Any = None, operation: Any = None,
                **_: Any) -> None:
        reason = caught_exception or (response[1].get("Error", {}).get("Code") if response else None)
        if reason is not None and attempts < MAX_ATTEMPTS:
            name = getattr(operation, "name", "a call")
            note(f"Secrets Manager {name}: attempt {attempts} failed ({redact.redact(str(reason))[:120]}); "
                 f"retrying")

    return handler


def error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


class SecretsError(ProvisionerError):
    def __init__(self, operation: str, secret_id: str | None, exc: ClientError) -> None:
        self.code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", str(exc))
        what = f" on {secret_id}" if secret_id else ""
        hints = {
            "AccessDeniedException": "the AWS identity lacks a permission; see docs/iam/ for the policies",
            "ResourceNotFoundException": "check the secret name/ARN and the region",
        }
        super().__init__(f"Secrets Manager {operation}{what} failed: {self.code}: {redact.redact(message)}",
                         hints.get(self.code, ""))
