"""The entry point Secrets Manager invokes (published as `provisioner.rotation.lambda_handler`): the event checked,
logs redacted once per process (warm invocations add nothing), one step of `rotation.Rotation` run."""

from __future__ import annotations

import logging
import os
from typing import Any

from provisioner import redact
from provisioner.core.model import PasswordPolicy
from provisioner.secrets.rotation import Rotation
from provisioner.secrets.store import SecretStore
from provisioner.secrets.trust import RotationError

log = logging.getLogger(__name__)


EVENT_KEYS = ("SecretId", "ClientRequestToken", "Step")


def redacting_logs() -> None:
    """Every handler of the root logger masks secrets; installed once per process (a warm Lambda container runs
    this at every invocation: one filter per handler, never one more per call)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, redact.RedactingFilter) for f in handler.filters):
            handler.addFilter(redact.RedactingFilter())


def event_fields(event: Any) -> tuple[str, str, str]:
    """SecretId, ClientRequestToken and Step of an invocation; RotationError naming what is missing or wrong."""
    if not isinstance(event, dict):
        raise RotationError(f"the rotation event is {type(event).__name__}, not a JSON object",
                            "Secrets Manager invokes the function with {Step, SecretId, ClientRequestToken}")
    missing = [key for key in EVENT_KEYS if not isinstance(event.get(key), str) or not event.get(key)]
    if missing:
        raise RotationError(f"the rotation event lacks {', '.join(missing)} (or gives it as something other than "
                            f"text)", "Secrets Manager invokes the function with {Step, SecretId, "
                                      "ClientRequestToken}")
    return event["SecretId"], event["ClientRequestToken"], event["Step"]


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    """Entry point Secrets Manager invokes: {"Step", "SecretId", "ClientRequestToken"[, "RotationToken"]}."""
    logging.getLogger().setLevel(logging.INFO)
    redacting_logs()
    policy = PasswordPolicy(
        length=int(os.environ.get("PASSWORD_LENGTH", PasswordPolicy.length)),
        exclude_characters=os.environ.get("EXCLUDE_CHARACTERS", PasswordPolicy.exclude_characters),
    )
    secret_id, token, step = event_fields(event)
    log.info("%s for secret %s, version %s", step, secret_id, token)
    Rotation(SecretStore(), secret_id, token, policy, require_enabled=True).run(step)
