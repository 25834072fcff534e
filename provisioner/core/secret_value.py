"""The credential JSON of a secret (SPEC 3, AWS's "RDS database credentials" shape): the fields written for a
principal, and the one reader that turns a value into connection settings (rotation, doctor, the application
helper all read it here, with the same engine aliases and default ports).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from provisioner.core.engine_facts import ENGINES, engine_from_secret
from provisioner.core.model import ConnInfo, Principal, Target, Tls

# Staging labels of a secret's versions (Secrets Manager's rotation protocol).
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"

PASSWORD = "password"
USERNAME = "username"
MASTER_ARN = "masterarn"


class SecretValueError(ValueError):
    """A secret value that does not hold what a connection needs."""


def fields_for(principal: Principal, target: Target, connection: Mapping[str, object]) -> dict[str, object]:
    """The credential JSON of an account, without its password. `connection`: host/port/dbname/masterarn."""
    fields: dict[str, object] = {
        "engine": target.engine,
        "host": connection.get("host"),
        "port": connection.get("port"),
        USERNAME: principal.name,
    }
    if connection.get("dbname"):
        fields["dbname"] = connection["dbname"]
    if principal.rotation.strategy == "alternating" and connection.get(MASTER_ARN):
        fields[MASTER_ARN] = connection[MASTER_ARN]
    return fields


def version_with(label: str, stages: Mapping[str, Iterable[str]]) -> str | None:
    """The version that carries a staging label, from a VersionIdsToStages mapping."""
    return next((version for version, labels in stages.items() if label in labels), None)


def engine_of(value: Mapping[str, Any]) -> str:
    name = engine_from_secret(value.get("engine"))
    if name is None:
        raise SecretValueError(f"unsupported engine {value.get('engine')!r} in the secret")
    return name


def _tls(value: Mapping[str, Any]) -> Tls:
    """ssl: true / false / absent (= try TLS first), as AWS's rotation functions read it."""
    ssl = value.get("ssl")
    if isinstance(ssl, str):
        ssl = ssl.lower() == "true"
    return Tls(mode="require") if ssl is True else Tls(mode="disable") if ssl is False else Tls(mode="prefer")


def conninfo(value: Mapping[str, Any], user: str | None = None, password: str | None = None) -> ConnInfo:
    """Connection settings from a secret value; `user`/`password` override the value's own."""
    if not value.get("host"):
        raise SecretValueError("the secret has no host")
    name = engine_from_secret(value.get("engine")) or "postgres"
    dbname = value.get("dbname") or ("postgres" if name == "postgres" else None)
    return ConnInfo(engine=name, host=str(value["host"]), port=int(value.get("port") or ENGINES[name].default_port),
                    user=str(user or value[USERNAME]), password=str(password or value[PASSWORD]),
                    dbname=dbname, tls=_tls(value))
