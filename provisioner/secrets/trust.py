"""What rotation and doctor trust of a secret's value: nothing about where to send a password until it matches
the binding apply recorded (`core.binding`, SPEC 8), and connection settings read by the one reader of the
credential JSON, its failures as RotationError (never a KeyError or TypeError)."""

from __future__ import annotations

from typing import Any

from provisioner.core import secret_value
from provisioner.core.binding import BINDING_TAG, endpoint_of, mismatches
from provisioner.core.conventions import ACCOUNT_TAG, clone_name
from provisioner.core.engine_facts import SECRET_ENGINE_ALIASES
from provisioner.core.model import ConnInfo
from provisioner.engines import Engine, get_engine
from provisioner.errors import ProvisionerError


class RotationError(ProvisionerError):
    pass


def engine_of(value: dict[str, Any]) -> Engine:
    try:
        return get_engine(secret_value.engine_of(value))
    except secret_value.SecretValueError as exc:
        raise RotationError(str(exc), f"use one of: {', '.join(SECRET_ENGINE_ALIASES)}") from None


def conninfo(value: dict[str, Any], user: str | None = None, password: str | None = None) -> ConnInfo:
    try:
        return secret_value.conninfo(value, user, password)
    except secret_value.SecretValueError as exc:
        raise RotationError(f"the secret cannot be used to connect: {exc}",
                            "the secret needs engine, host, username and password") from None


def verify_endpoint(secret_id: str, tags: dict[str, str], value: dict[str, Any], which: str) -> None:
    """Refuse a value that names another place or user than apply recorded for the account (SPEC 8): whoever may
    put a secret value must not steer a rotation into sending a password elsewhere. `which`: AWSCURRENT, ..."""
    account = tags.get(ACCOUNT_TAG, "")
    binding = tags.get(BINDING_TAG)
    if not binding:
        raise RotationError(
            f"secret {secret_id} has no {BINDING_TAG} tag: nothing records where its account lives, so its value "
            f"(host, port, masterarn) cannot be trusted with a password",
            "run `provisioner apply`: it records the account's endpoint in that tag")
    wrong = mismatches(binding, endpoint_of(value, account), ignore=("host_part",))
    alternating = bool(value.get("masterarn"))
    users = {account, clone_name(account)} if alternating else {account}
    if value.get("username") not in users:
        wrong.append("username")
    if wrong:
        raise RotationError(
            f"the {which} value of secret {secret_id} names {', '.join(wrong)} other than apply recorded for account "
            f"{account!r}: refusing to send a password there",
            "someone rewrote the secret's value: restore it with `provisioner apply` (it rewrites the fields from "
            "the manifest); review who may call secretsmanager:PutSecretValue on it (docs/security.md)")
