"""Admin credentials of a target: from an env var holding a URL (`admin.url_env`) or from a Secrets Manager
secret (`admin.secret`, including RDS-managed `rds!...` secrets that hold only username and password).

Every password found here is registered for redaction before anything else can print it.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from . import redact
from .engines import ConnInfo, get_engine
from .errors import ProvisionerError
from .model import Target
from .secrets_manager import SecretsError, SecretStore

SCHEMES = {"postgres": ("postgresql", "postgres"), "mysql": ("mysql", "mariadb"), "mariadb": ("mysql", "mariadb")}


def parse_url(url: str, engine: str, variable: str) -> dict[str, object]:
    """Split a postgresql:// or mysql:// URL into parts; errors never echo the URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ProvisionerError(f"${variable} is not a valid URL", "expected scheme://user:password@host:port/db"
                               ) from None
    redact.register(unquote(parts.password or ""))
    scheme = parts.scheme.split("+")[0]
    if scheme not in SCHEMES[engine]:
        raise ProvisionerError(f"${variable} has the scheme {scheme!r}, expected {SCHEMES[engine][0]}://",
                               f"a {engine} target needs a {SCHEMES[engine][0]}:// URL")
    if not parts.username:
        raise ProvisionerError(f"${variable} names no user", "expected scheme://user:password@host:port/db")
    return {
        "user": unquote(parts.username),
        "password": unquote(parts.password or ""),
        "host": parts.hostname,
        "port": port,
        "dbname": unquote(parts.path.lstrip("/")) or None,
    }


def admin_conninfo(target: Target, store: SecretStore) -> ConnInfo:
    """Where and as whom the provisioner connects to a target (target fields win over the source's)."""
    engine = get_engine(target.engine)
    if target.admin.url_env:
        variable = target.admin.url_env
        url = os.environ.get(variable)
        if not url:
            raise ProvisionerError(f"target {target.name}: the environment variable {variable} is not set",
                                   f"export {variable}=postgresql://USER:PASSWORD@HOST:PORT/DB (or mysql://...)")
        found = parse_url(url, target.engine, variable)
    else:
        assert target.admin.secret
        try:
            value = store.get_value(target.admin.secret)
        except SecretsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise ProvisionerError(f"target {target.name}: the admin secret {target.admin.secret} does not exist",
                                       "check admin.secret (name or ARN) and AWS_REGION") from None
            raise
        if "username" not in value or "password" not in value:
            raise ProvisionerError(f"target {target.name}: the admin secret {target.admin.secret} has no "
                                   f"username/password", "store a JSON value with username and password")
        found = {"user": value["username"], "password": value["password"], "host": value.get("host"),
                 "port": value.get("port"), "dbname": value.get("dbname")}
    host = target.host or found.get("host")
    if not host:
        raise ProvisionerError(f"target {target.name}: no host to connect to",
                               "set `host:` on the target (an RDS-managed admin secret holds only username and "
                               "password)")
    port = int(target.port or found.get("port") or engine.default_port)  # type: ignore[call-overload]
    dbname = target.database or found.get("dbname")
    if target.engine == "postgres" and not dbname:
        dbname = "postgres"
    return ConnInfo(engine=target.engine, host=str(host), port=port, user=str(found["user"]),
                    password=str(found["password"]), dbname=str(dbname) if dbname else None, tls=target.tls)


def admin_secret_arn(target: Target, store: SecretStore) -> str | None:
    """The admin secret's ARN (for `masterarn`), when the admin comes from Secrets Manager."""
    if not target.admin.secret:
        return None
    if target.admin.secret.startswith("arn:"):
        return target.admin.secret
    return store.describe(target.admin.secret)["ARN"]
