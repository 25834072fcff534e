"""The credential JSON of a secret (SPEC 3, AWS's "RDS database credentials" shape): the fields written for a
principal, and the one reader that turns a value into connection settings (rotation, doctor, the application
helper all read it here, with the same engine aliases and default ports).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from provisioner.core.engine_facts import DEFAULT_ENGINE, ENGINES, EngineFacts, engine_from_secret
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import ConnInfo, Principal, Target, Tls
from provisioner.core.names import mysql_pattern_matches

# Staging labels of a secret's versions (Secrets Manager's rotation protocol).
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"

PASSWORD = "password"
USERNAME = "username"
MASTER_ARN = "masterarn"
# The fields of the credential JSON apply writes (the others, such as `ssl`, are the owner's and carried over).
MANAGED_FIELDS = frozenset({"engine", "host", "port", "dbname", USERNAME, PASSWORD, MASTER_ARN})


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
    connected = connection.get("dbname")
    dbname = account_database(principal, str(connected) if connected else None, ENGINES[target.engine])
    if dbname:
        fields["dbname"] = dbname
    if principal.rotation.strategy == "alternating" and connection.get(MASTER_ARN):
        fields[MASTER_ARN] = connection[MASTER_ARN]
    return fields


def account_database(principal: Principal, connected: str | None, engine: EngineFacts) -> str | None:
    """The database an account's secret names (its `dbname`): one the account can connect to. The target's own
    database when its grants reach it (or it declares none: its roles decide), else the first database its
    grants name (SPEC 8: a login whose `dbname` it may not use fails)."""
    if not principal.grants or not connected:
        return connected
    elsewhere: list[str] = []
    for grant in principal.grants:
        ref = grant.obj
        if engine.cluster_databases:  # grants name their database (`database:`), databases are objects
            database = ref.name if ref.kind == ObjectKind.DATABASE else (grant.database or connected)
        elif ref.name == "*":  # a database-level grant: its database is a pattern
            if mysql_pattern_matches(ref.schema, connected):
                return connected
            literal = not re.search(r"(?<!\\)[%_]", ref.schema)
            database = ref.schema.replace("\\", "") if literal else ""
        else:
            database = ref.schema
        if database == connected:
            return connected
        if database:
            elsewhere.append(database)
    return elsewhere[0] if elsewhere else (connected if engine.default_database else None)


def value_problem(value: object) -> str | None:
    """Why a parsed secret value cannot serve as an account's credentials (None when it can): not a JSON object,
    no password, a password or username that is not text. Apply repairs such a value with a new password."""
    if not isinstance(value, dict):
        kind = {list: "a JSON array", str: "a JSON string", int: "a JSON number", float: "a JSON number",
                bool: "a JSON boolean", type(None): "JSON null"}.get(type(value), "not a JSON object")
        return f"the value is {kind}, not a JSON object"
    password = value.get(PASSWORD)
    if password is None:
        return "the value has no password"
    if not isinstance(password, str) or not password:
        return "the password is not a non-empty string"
    if not isinstance(value.get(USERNAME), str) or not value.get(USERNAME):
        return "the username is not a non-empty string"
    return None


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
    """Connection settings from a secret value; `user`/`password` override the value's own. SecretValueError
    (never a KeyError or TypeError) for a value that does not hold them."""
    if not isinstance(value, Mapping):
        raise SecretValueError("the secret's value is not a JSON object")
    if not value.get("host") or not isinstance(value.get("host"), str):
        raise SecretValueError("the secret has no host")
    user = user or value.get(USERNAME)
    password = password or value.get(PASSWORD)
    if not isinstance(user, str) or not user:
        raise SecretValueError("the secret has no username")
    if not isinstance(password, str) or not password:
        raise SecretValueError("the secret has no password (or one that is not text)")
    try:
        port = int(value.get("port") or ENGINES[engine_from_secret(value.get("engine")) or DEFAULT_ENGINE].default_port)
    except (TypeError, ValueError):
        raise SecretValueError(f"the secret's port {str(value.get('port'))[:20]!r} is not a number") from None
    name = engine_from_secret(value.get("engine")) or DEFAULT_ENGINE
    dbname = value.get("dbname") or ENGINES[name].default_database
    return ConnInfo(engine=name, host=str(value["host"]), port=port, user=user, password=password,
                    dbname=str(dbname) if dbname else None, tls=_tls(value))
