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

    def check_settings(self, settings: list[tuple[str, str]]) -> list[str]:
        """What the server says of each (parameter, value) a role is about to get: `set_config` in a transaction
        that is rolled back parses the value as ALTER ROLE ... SET would (an unknown parameter, a malformed
        value, a parameter that cannot be set per session). One query per setting that changes: a plan with
        nothing to set sends none."""
        problems = []
        for name, value in settings:
            try:
                with self.conn.transaction(force_rollback=True):
                    self.queries += 1
                    self.conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            except psycopg.errors.InsufficientPrivilege:
                continue  # the admin cannot set it in its own session; ALTER ROLE decides (and says) at apply
            except psycopg.Error as exc:
                problems.append(f"setting {name} = {value[:80]!r}: {primary(exc)}")
        return problems

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


ENCRYPTED_MODES = ("require", "verify-ca", "verify-full")
# libpq's words when a server asks for a password in a form `require_auth` does not allow.
REQUIREMENT_FAILED = "authentication method requirement"


def connect_kwargs(info: ConnInfo, connect_timeout: int) -> dict[str, Any]:
    """libpq's parameters. A password travels only inside TLS or as a SCRAM exchange (SPEC 8): over a connection
    that may be unencrypted, `require_auth` makes libpq refuse a server (a real one misconfigured, or one that
    someone pointed us at) that asks for it in clear text or as an MD5 hash."""
    kwargs: dict[str, Any] = {
        "host": info.host, "port": info.port, "user": info.user, "password": info.password,
        "dbname": info.dbname or "postgres", "connect_timeout": connect_timeout,
        "application_name": "provisioner", "autocommit": True,
    }
    if info.tls:
        kwargs["sslmode"] = info.tls.mode
        if info.tls.ca:
            kwargs["sslrootcert"] = info.tls.ca
    if not info.tls or info.tls.mode not in ENCRYPTED_MODES:
        kwargs["require_auth"] = "scram-sha-256"
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
        cause = key_line(str(exc))
        if REQUIREMENT_FAILED in cause:
            raise DatabaseUnreachable(
                f"{info.host}:{info.port} asked for the password of {info.user} in a form provisioner never sends "
                f"over a connection that may be unencrypted ({redact.redact(cause)})",
                "use TLS (target `tls: {mode: verify-full, ca: ...}` or at least `require`), or let the server "
                "authenticate with SCRAM (password_encryption = scram-sha-256, pg_hba.conf scram-sha-256)") from None
        raise DatabaseUnreachable(f"cannot connect to {info.host}:{info.port} as {info.user}: "
                                  f"{redact.redact(cause)}",
                                  "check the host, port, network path (security groups, VPC) and TLS") from None


def key_line(message: str) -> str:
    """The line of a libpq connection error that says what happened ("Connection refused", "password
    authentication failed ...", "server closed the connection unexpectedly"), without the address prefix that
    the caller names itself and without libpq's hints ("Is the server running ...")."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    causes = [line for line in lines if not line.startswith(("Is the server", "This probably means", "HINT:"))]
    if not causes:
        return lines[0] if lines else "no answer"
    cause = causes[0].removeprefix("connection failed: ")
    # 'connection to server at "127.0.0.1", port 1 failed: Connection refused' -> 'Connection refused'
    head, separator, rest = cause.partition(" failed: ")
    if separator and head.startswith("connection to server") and rest.strip():
        cause = rest
    return cause.strip()


def lock_key(target: str) -> int:
    digest = hashlib.sha256(f"{LOCK_PREFIX}{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
