"""A PostgreSQL admin session: the connection, its server errors as user-facing errors, the advisory lock of a
target, the transaction, and SCRAM-SHA-256 verifiers computed client-side by libpq (the server never sees a
plaintext password)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from provisioner import redact
from provisioner.core.conventions import LOCK_PREFIX
from provisioner.core.model import ConnInfo
from provisioner.engines.base import AuthenticationFailed, DatabaseUnreachable, Session, Statement
from provisioner.errors import ProvisionerError

AUTH_FAILURE_STATES = {"28P01", "28000"}
NOT_GRANTED_STATES = {"01007", "01006"}  # privilege_not_granted, privilege_not_revoked


@contextmanager
def server_errors(what: str) -> Iterator[None]:
    """Server errors as user-facing errors; permission errors say which privilege is missing."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ProvisionerError(f"the admin lacks a privilege for `{what[:200]}`: {primary(exc)}",
                               "grant the admin what docs/admin-privileges.md lists for PostgreSQL") from None
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
            raise ProvisionerError(f"lost the connection to the database during `{what[:200]}`: {primary(exc)}",
                                   "check the network path; a rerun continues from the current state") from None
        raise ProvisionerError(f"the server refused `{what[:200]}`: {primary(exc)}") from None


def primary(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    text = diag.message_primary if diag is not None and diag.message_primary else str(exc).strip()
    state = f" (SQLSTATE {exc.sqlstate})" if getattr(exc, "sqlstate", None) else ""
    return redact.redact(text.splitlines()[0] if text else type(exc).__name__) + state


class PostgresSession(Session):
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.queries = 0
        self.statements = 0
        # (sqlstate, message): a Diagnostic is only readable inside the handler
        self.notices: list[tuple[str | None, str | None]] = []
        conn.add_notice_handler(lambda d: self.notices.append((d.sqlstate, d.message_primary)))

    def query(self, query: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.queries += 1
        with server_errors("a catalog query"):
            return self.conn.execute(query, params or None).fetchall()

    def execute(self, statement: Statement) -> None:
        self.statements += 1
        self.notices.clear()
        with server_errors(statement.display):
            self.conn.execute(statement.query, statement.params or None)
        # GRANT/REVOKE without the grant option only warn ("no privileges were granted"): make that an error
        # rather than report a change that did not happen.
        for state, message in self.notices:
            if state in NOT_GRANTED_STATES:
                raise ProvisionerError(
                    f"the admin lacks a privilege for `{statement.display[:200]}`: {message}",
                    "the admin must own the object or hold the privilege WITH GRANT OPTION; see "
                    "docs/admin-privileges.md")

    def close(self) -> None:
        self.conn.close()

    def verifier(self, role: str, password: str) -> str:
        """SCRAM-SHA-256 verifier computed by libpq on the client: the server never sees the plaintext."""
        redact.register(password)
        verifier = self.conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
        redact.register(verifier)
        return verifier

    @contextmanager
    def target_lock(self, target: str, timeout_seconds: int | None = None, shared: bool = False
                    ) -> Iterator[None]:
        # Rotations hold it shared (they exclude applies, not each other); an apply holds it alone.
        lock, unlock = ("pg_advisory_lock_shared", "pg_advisory_unlock_shared") if shared else (
            "pg_advisory_lock", "pg_advisory_unlock")
        if timeout_seconds:
            self.query("SELECT set_config('lock_timeout', %s, false)", (f"{timeout_seconds}s",))
        try:
            self.query(f"SELECT {lock}(%s)", (lock_key(target),))
        except ProvisionerError as exc:
            raise ProvisionerError(f"target {target} stayed locked by another apply or rotation: {exc.message}",
                                   "try again when it has finished") from None
        try:
            yield
        finally:
            if not self.conn.closed:
                self.query(f"SELECT {unlock}(%s)", (lock_key(target),))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield


def connect_kwargs(info: ConnInfo, connect_timeout: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "host": info.host, "port": info.port, "user": info.user, "password": info.password,
        "dbname": info.dbname or "postgres", "connect_timeout": connect_timeout,
        "application_name": "provisioner", "autocommit": True,
    }
    if info.tls:
        kwargs["sslmode"] = info.tls.mode
        if info.tls.ca:
            kwargs["sslrootcert"] = info.tls.ca
    return kwargs


def is_auth_failure(exc: psycopg.Error) -> bool:
    state = getattr(exc, "sqlstate", None)
    return state in AUTH_FAILURE_STATES or "authentication failed" in str(exc)


def open_session(info: ConnInfo, connect_timeout: int = 10) -> PostgresSession:
    redact.register(info.password)
    try:
        return PostgresSession(psycopg.connect(**connect_kwargs(info, connect_timeout)))
    except psycopg.OperationalError as exc:
        if is_auth_failure(exc):
            raise AuthenticationFailed(f"password authentication failed for {info.user}") from None
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnreachable(f"cannot connect to {info.host}:{info.port} as {info.user}: "
                                  f"{redact.redact(first)}",
                                  "check the host, port, network path (security groups, VPC) and TLS") from None


def lock_key(target: str) -> int:
    digest = hashlib.sha256(f"{LOCK_PREFIX}{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
