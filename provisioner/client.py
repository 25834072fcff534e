"""The application-side helper: `provisioner.connect(secret_id)` opens a database connection with the
credentials in a Secrets Manager secret, and survives rotation.

The secret is cached for `ttl` seconds. On an authentication failure the helper re-reads AWSCURRENT and
retries; if that still fails it tries AWSPENDING, which covers the moment of a single-user rotation between
setSecret (the database has the new password) and finishSecret (the secret does not yet call it current).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from provisioner import redact
from provisioner.core.engine_facts import facts
from provisioner.core.secret_value import CURRENT, PENDING, conninfo
from provisioner.secrets.aws import SecretsError
from provisioner.secrets.store import SecretStore

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_store: SecretStore | None = None
T = TypeVar("T")


class CredentialsRejected(Exception):
    """Every credential the secret offers was refused by the database."""


def _secrets() -> SecretStore:
    global _store
    with _lock:
        if _store is None:
            _store = SecretStore()
        return _store


def _value(secret_id: str, ttl: float, refresh: bool = False) -> dict[str, Any]:
    now = time.monotonic()
    with _lock:
        cached = _cache.get(secret_id)
    if cached and not refresh and cached[0] > now:
        return cached[1]
    value = _secrets().get_value(secret_id, CURRENT)
    with _lock:
        _cache[secret_id] = (now + ttl, value)
    return value


def invalidate(secret_id: str | None = None) -> None:
    with _lock:
        if secret_id is None:
            _cache.clear()
        else:
            _cache.pop(secret_id, None)


def _open(value: dict[str, Any], **kwargs: Any) -> Any:
    """A connection with the engine's driver (imported when first used: an application needs only its own)."""
    parameters = driver_parameters(value)
    driver = importlib.import_module(facts(conninfo(value).engine).driver)
    return driver.connect(**parameters, **kwargs)


def _rejected(exc: Exception) -> bool:
    text = str(exc)
    code = exc.args[0] if getattr(exc, "args", None) else None
    return "password authentication failed" in text or code == 1045 or "Access denied" in text


def with_credentials(secret_id: str, open_: Callable[[dict[str, Any]], T], *, ttl: float = 300.0,
                     attempts: int = 3) -> T:
    """`open_(secret value)` with the cached credentials; when the database refuses them, AWSCURRENT and then
    AWSPENDING are read again (a rotation may be finishing between the two reads) up to `attempts` times."""
    value = _value(secret_id, ttl)
    try:
        return open_(value)
    except Exception as exc:
        if not _rejected(exc):
            raise
    tried = {value.get("password")}
    for attempt in range(attempts):
        candidates = [_value(secret_id, ttl, refresh=True)]
        with contextlib.suppress(SecretsError):  # no AWSPENDING: no rotation in progress
            candidates.append(_secrets().get_value(secret_id, PENDING))
        for candidate in candidates:
            if not candidate.get("password") or candidate.get("password") in tried:
                continue
            try:
                return open_(candidate)
            except Exception as exc:
                if not _rejected(exc):
                    raise
                tried.add(candidate.get("password"))
        time.sleep(0.1 * (attempt + 1))
    raise CredentialsRejected(f"the database refused every credential of secret {secret_id}")


def connect(secret_id: str, *, ttl: float = 300.0, attempts: int = 3, **kwargs: Any) -> Any:
    """A psycopg (PostgreSQL) or pymysql (MySQL/MariaDB) connection for the account in `secret_id`.

    Extra keyword arguments go to the driver's connect(). When the cached password is refused, AWSCURRENT and
    AWSPENDING are read again (a rotation may be finishing between the two reads) up to `attempts` times.
    """
    return with_credentials(secret_id, lambda value: _open(value, **kwargs), ttl=ttl, attempts=attempts)


def driver_parameters(value: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the driver's connect() for a secret value (psycopg: dbname, pymysql: database),
    read by the one reader of the credential JSON (engine aliases, default ports)."""
    redact.register(value.get("password"))
    info = conninfo(value)
    base: dict[str, Any] = {"host": info.host, "port": info.port, "user": info.user, "password": info.password}
    return {**base, facts(info.engine).driver_database: info.dbname} if info.dbname else base
