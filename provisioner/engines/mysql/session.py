"""A MySQL/MariaDB admin session: the connection and its dialect, server errors as user-facing errors, the
target's GET_LOCK, MariaDB's marker table, and password changes for rotation. Every value is bound."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymysql

from provisioner import redact
from provisioner.core.conventions import LOCK_PREFIX
from provisioner.core.model import ConnInfo
from provisioner.engines.base import AuthenticationFailed, DatabaseUnreachable, Session, Statement
from provisioner.engines.mysql import queries as q
from provisioner.engines.mysql.compiler import inline
from provisioner.engines.mysql.dialect import Dialect, detect
from provisioner.errors import ProvisionerError

LOCK_TIMEOUT_SECONDS = 600
PRIVILEGE_ERRORS = {1044, 1045, 1142, 1143, 1227, 1410}


class MissingTable(ProvisionerError):
    pass


@contextmanager
def server_errors(what: str) -> Iterator[None]:
    """Server errors as user-facing errors; the server's text names the missing privilege."""
    try:
        yield
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else None
        message = redact.redact(str(exc.args[-1]) if exc.args else str(exc))
        if code in PRIVILEGE_ERRORS:
            raise ProvisionerError(f"the admin lacks a privilege: {message} (error {code})",
                                   "grant the admin what docs/admin-privileges.md lists for MySQL/MariaDB") from None
        if code == 1146:
            raise MissingTable(f"{message} (error {code})") from None
        raise ProvisionerError(f"the server refused `{redact.redact(str(what))[:200]}`: {message} (error {code})"
                               ) from None


class MySQLSession(Session):
    def __init__(self, conn: pymysql.connections.Connection[Any], dialect: Dialect, user: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self.user = user
        self.queries = 0
        self.statements = 0

    def query(self, query: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.queries += 1
        with server_errors(query), self.conn.cursor() as cur:
            cur.execute(query, params or None)
            return list(cur.fetchall())

    def dict_query(self, query: str) -> list[dict[str, Any]]:
        self.queries += 1
        with server_errors(query), self.conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(query)
            return list(cur.fetchall())

    def execute(self, statement: Statement) -> None:
        self.statements += 1
        with server_errors(statement.display), self.conn.cursor() as cur:
            # Always with a parameter tuple: the text escapes `%` as `%%` for the driver's formatting.
            cur.execute(statement.query, tuple(statement.params))

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def target_lock(self, target: str, timeout_seconds: int | None = None, shared: bool = False
                    ) -> Iterator[None]:
        # GET_LOCK has no shared mode: rotations take it alone too, and so wait for each other here.
        name = LOCK_PREFIX + hashlib.sha256(target.encode()).hexdigest()[:40]
        wait = timeout_seconds or LOCK_TIMEOUT_SECONDS
        [(acquired,)] = self.query(q.Q_GET_LOCK, (name, wait))
        if acquired != 1:
            raise ProvisionerError(f"target {target} stayed locked by another apply or rotation for {wait}s",
                                   "try again when it has finished")
        try:
            yield
        finally:
            if self.conn.open:
                self.query(q.Q_RELEASE_LOCK, (name,))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """No transaction (MySQL commits account statements implicitly); MariaDB: the marker table exists, since it
        keeps no comment on accounts and the ownership marker lives in a table of ours."""
        if self.dialect.mariadb:
            self.query(q.CREATE_META_DATABASE)
            self.query(q.CREATE_META_TABLE)
        yield

    def host_parts(self, user: str) -> list[str]:
        return [text(h) for (h,) in self.query(q.Q_USER_HOSTS, (user,))]

    def host_of(self, user: str) -> str:
        hosts = self.host_parts(user)
        if len(hosts) != 1:
            raise ProvisionerError(f"user {user!r} exists with {len(hosts)} host parts ({', '.join(hosts)})",
                                   "keep one account per user name for rotation")
        return hosts[0]

    def run(self, text_: str, params: tuple[Any, ...], shown: str) -> None:
        self.execute(Statement(display=shown, query=text_, params=params))


class PasswordExposure(pymysql.err.OperationalError):
    """The server asked for the password in a form it could read, over an unencrypted connection."""


# Plugins that hand the server the password itself (or something it can decrypt with a key of its own choosing).
_EXPOSING_PLUGINS = (b"mysql_clear_password", b"dialog", b"sha256_password", b"mysql_old_password")


class GuardedConnection(pymysql.connections.Connection):
    """pymysql's connection, sending a password over an unencrypted connection only as a challenge response
    (mysql_native_password, caching_sha2_password's fast path, ed25519) — SPEC 8. A server that asks for it in
    clear text (mysql_clear_password, a dialog prompt), RSA-encrypted to a public key the server supplies
    (sha256_password, caching_sha2_password's full authentication) or under the weak pre-4.1 hash gets nothing:
    a real server asks so only of accounts meant for TLS (RDS IAM tokens go over TLS), and a server someone
    pointed us at would learn the password. Over TLS every plugin works as in pymysql."""

    def _exposure(self, plugin: bytes | str) -> PasswordExposure:
        name = plugin.decode(errors="replace") if isinstance(plugin, bytes) else str(plugin)
        return PasswordExposure(2061, f"the server asked for the password with {name} over an unencrypted "
                                      f"connection: provisioner sends it only as a challenge response or inside TLS")

    def _process_auth(self, plugin_name: bytes, auth_packet: Any, handler: Any = None) -> Any:
        if not self._secure and self.password and plugin_name in _EXPOSING_PLUGINS:
            raise self._exposure(plugin_name)
        return super()._process_auth(plugin_name, auth_packet, handler)

    # caching_sha2_password's full authentication and sha256_password read the server's key through this
    # attribute before encrypting the password to it.
    @property
    def server_public_key(self) -> Any:
        if not self._secure and self.password:
            raise self._exposure("an RSA key the server supplies (caching_sha2_password full authentication)")
        return self.__dict__.get("_server_public_key")

    @server_public_key.setter
    def server_public_key(self, value: Any) -> None:
        self.__dict__["_server_public_key"] = value


def text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8")
    return "" if value is None else str(value)


def open_session(info: ConnInfo, connect_timeout: int = 10) -> MySQLSession:
    redact.register(info.password)
    kwargs: dict[str, Any] = {"host": info.host, "port": info.port, "user": info.user,
                              "password": info.password, "connect_timeout": connect_timeout,
                              "autocommit": True, "charset": "utf8mb4"}
    if info.dbname:
        kwargs["database"] = info.dbname
    if info.tls and info.tls.mode in ("require", "verify-ca", "verify-full"):
        kwargs["ssl"] = {"ca": info.tls.ca} if info.tls.ca else {}
        kwargs["ssl_verify_cert"] = info.tls.mode != "require"
        kwargs["ssl_verify_identity"] = info.tls.mode == "verify-full"
    try:
        conn = GuardedConnection(**kwargs)
    except PasswordExposure as exc:
        raise DatabaseUnreachable(f"{info.host}:{info.port}: {exc.args[-1]}",
                                  "use TLS (target `tls: {mode: verify-full, ca: ...}`), or an account whose "
                                  "authentication plugin is mysql_native_password or caching_sha2_password") from None
    except pymysql.err.OperationalError as exc:
        if exc.args and exc.args[0] == 1045:
            raise AuthenticationFailed(f"access denied for {info.user}") from None
        raise DatabaseUnreachable(f"cannot connect to {info.host}:{info.port} as {info.user}: "
                                  f"{redact.redact(str(exc.args[-1]))}",
                                  "check the host, port, network path (security groups, VPC) and TLS") from None
    with conn.cursor() as cur:
        # The driver escapes values with backslashes: make sure the session interprets them that way.
        cur.execute("SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')")
        cur.execute("SELECT VERSION()")
        row = cur.fetchone()
    return MySQLSession(conn, detect(text(row[0]) if row else ""), info.user)


__all__ = ["MissingTable", "MySQLSession", "inline", "open_session", "server_errors", "text"]
