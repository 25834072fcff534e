"""MySQL 8.0/8.4 and MariaDB 10.6+: accounts 'user'@'host', inspection by reading the grant tables directly
(a constant number of queries, no SHOW GRANTS parsing), statements rendered for the detected dialect, applies
serialised by GET_LOCK.

Account statements commit implicitly in MySQL, so an apply is a sequence of individually consistent steps; the
executor reports exactly which ran. MariaDB keeps no comment on accounts: the ownership marker lives in a small
table, `provisioner_meta.accounts`, which survives reruns. MySQL 8 keeps it in the account's COMMENT attribute.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets as random_source
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.converters import escape_string

from .. import changes as c
from .. import redact
from ..errors import ProvisionerError
from ..model import AclGroup, DatabaseState, ObjectRef, RoleState, Traits
from ..privileges import COLUMN, FUNCTION, TABLE
from .base import AuthenticationFailed, ConnInfo, DatabaseUnreachable, Engine, Session, Statement

GLOBAL = "global"
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
META_DATABASE = "provisioner_meta"
LOCK_TIMEOUT_SECONDS = 600
_PRIVILEGE = re.compile(r"^[A-Z][A-Z ]*$")
# Grant-table column or SET value -> privilege name, where the obvious mapping (underscores to spaces) is wrong.
_SPECIAL = {"CREATE TMP TABLE": "CREATE TEMPORARY TABLES", "REPL SLAVE": "REPLICATION SLAVE",
            "REPL CLIENT": "REPLICATION CLIENT", "SHOW DB": "SHOW DATABASES", "GRANT": "GRANT OPTION",
            "DELETE VERSIONING ROWS": "DELETE HISTORY"}


@dataclass(frozen=True)
class Dialect:
    mariadb: bool
    version: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{'MariaDB' if self.mariadb else 'MySQL'} {'.'.join(map(str, self.version))}"


MYSQL8 = Dialect(False, (8, 0))
MARIADB = Dialect(True, (10, 11))


def detect(version: str) -> Dialect:
    numbers = tuple(int(n) for n in re.findall(r"\d+", version.split("-")[0])[:3])
    return Dialect("mariadb" in version.lower(), numbers or (0,))


def privilege_name(raw: str) -> str:
    name = raw.removesuffix("_priv").replace("_", " ").upper().strip()
    return _SPECIAL.get(name, name)


def native_password_hash(password: str) -> str:
    """mysql_native_password's stored form, computed client-side so that no plaintext reaches the server."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def literal(value: str) -> str:
    return "'" + escape_string(value) + "'"


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


PRIVILEGE_ERRORS = {1044, 1045, 1142, 1143, 1227, 1410}


class MissingTable(ProvisionerError):
    pass


@contextmanager
def _server_errors(what: str) -> Iterator[None]:
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
    def __init__(self, conn: pymysql.connections.Connection, dialect: Dialect, user: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self.user = user
        self.queries = 0
        self.statements = 0

    def query(self, query: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.queries += 1
        with _server_errors(query), self.conn.cursor() as cur:
            cur.execute(query, params or None)
            return list(cur.fetchall())

    def dict_query(self, query: str) -> list[dict[str, Any]]:
        self.queries += 1
        with _server_errors(query), self.conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(query)
            return list(cur.fetchall())

    def execute(self, statement: Statement) -> None:
        self.statements += 1
        with _server_errors(statement.display), self.conn.cursor() as cur:
            cur.execute(statement.query)

    def close(self) -> None:
        self.conn.close()


class MySQLEngine(Engine):
    default_port = 3306
    family = "mysql"
    transactional = False

    def __init__(self, name: str = "mysql") -> None:
        self.name = name
        self.dialect = MARIADB if name == "mariadb" else MYSQL8
        self.routine_types: dict[tuple[str, str], str] = {}

    @property
    def traits(self) -> Traits:
        return Traits(default_roles=True, qualified_accounts=True, role_host="" if self.dialect.mariadb else "%")

    # ------------------------------------------------------------ connect

    def connect(self, info: ConnInfo, connect_timeout: int = 10) -> MySQLSession:
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
            conn = pymysql.connect(**kwargs)
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] == 1045:
                raise AuthenticationFailed(f"access denied for {info.user}") from None
            raise DatabaseUnreachable(f"cannot connect to {info.host}:{info.port} as {info.user}: "
                                      f"{redact.redact(str(exc.args[-1]))}",
                                      "check the host, port, network path (security groups, VPC) and TLS") from None
        with conn.cursor() as cur:
            # Literals are escaped with backslashes: make sure the session interprets them that way.
            cur.execute("SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')")
            cur.execute("SELECT VERSION()")
            version = cur.fetchone()[0]
        self.dialect = detect(version)
        return MySQLSession(conn, self.dialect, info.user)

    # ------------------------------------------------------------ inspect

    def inspect(self, session: Session) -> DatabaseState:
        assert isinstance(session, MySQLSession)
        start = session.queries
        traits = self.traits
        mariadb = self.dialect.mariadb
        version, admin = session.query("SELECT VERSION(), SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")[0]

        users = session.dict_query("SELECT * FROM mysql.user")
        comments: dict[tuple[str, str], str] = {}
        default_roles: dict[tuple[str, str], set[str]] = defaultdict(set)
        if mariadb:
            try:
                for user, host, comment in session.query(
                        f"SELECT user, host, comment FROM {ident(META_DATABASE)}.accounts"):
                    comments[(user, host)] = comment
            except MissingTable:
                pass  # no marker table yet: nothing was created by the provisioner here
            for row in users:
                if row.get("default_role"):
                    default_roles[(row["User"], row["Host"])].add(row["default_role"])
        else:
            for user, host, role in session.query(
                    "SELECT USER, HOST, DEFAULT_ROLE_USER FROM mysql.default_roles"):
                default_roles[(user, host)].add(role)
        memberships: dict[tuple[str, str], set[str]] = defaultdict(set)
        edges = ("SELECT User, Host, Role FROM mysql.roles_mapping" if mariadb
                 else "SELECT TO_USER, TO_HOST, FROM_USER FROM mysql.role_edges")
        for user, host, role in session.query(edges):
            memberships[(user, host)].add(role)

        roles: dict[str, RoleState] = {}
        global_grants: dict[str, frozenset[str]] = {}
        for row in users:
            user, host = _text(row["User"]), _text(row["Host"])
            is_role = _text(row.get("is_role", "N")) == "Y" if mariadb else (
                _text(row.get("account_locked", "N")) == "Y" and not _text(row.get("authentication_string", "")))
            comment = comments.get((user, host))
            if not mariadb and row.get("User_attributes"):
                attributes = json.loads(_text(row["User_attributes"]))
                comment = (attributes.get("metadata") or {}).get("comment")
            limit = int(row.get("max_user_connections") or 0)
            key = traits.identity(user, host)
            roles[key] = RoleState(
                name=user, host=host, login=not is_role, connection_limit=limit or None, comment=comment,
                require_tls=_text(row.get("ssl_type", "")) not in ("", "NONE"),
                member_of=frozenset(memberships.get((user, host), ())),
                default_roles=frozenset(default_roles.get((user, host), ())),
            )
            held = frozenset(privilege_name(k) for k, v in row.items() if k.endswith("_priv") and _text(v) == "Y")
            if held:
                global_grants[key] = held

        groups: list[AclGroup] = [AclGroup(GLOBAL, "", frozenset({ObjectRef(GLOBAL, "", "*")}), global_grants)]
        database_level: dict[str, dict[str, frozenset[str]]] = defaultdict(dict)
        for row in session.dict_query("SELECT * FROM mysql.db"):
            held = frozenset(privilege_name(k) for k, v in row.items() if k.endswith("_priv") and _text(v) == "Y")
            if held:
                database_level[_text(row["Db"])][traits.identity(_text(row["User"]), _text(row["Host"]))] = held
        for db, grants in database_level.items():
            groups.append(AclGroup(TABLE, db, frozenset({ObjectRef(TABLE, db, "*")}), grants))

        tables: dict[ObjectRef, dict[str, frozenset[str]]] = {}
        in_schemas = ", ".join(literal(s) for s in SYSTEM_SCHEMAS)
        for schema, name in session.query(
                f"SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN "
                f"({in_schemas})"):
            tables[ObjectRef(TABLE, _text(schema), _text(name))] = {}
        for db, table, user, host, privs in session.query(
                "SELECT Db, Table_name, User, Host, Table_priv FROM mysql.tables_priv"):
            ref = ObjectRef(TABLE, _text(db), _text(table))
            held = _set(privs)
            if held:
                tables.setdefault(ref, {})[traits.identity(_text(user), _text(host))] = held
        groups += _grouped(TABLE, tables)

        columns: dict[ObjectRef, dict[str, frozenset[str]]] = {}
        for db, table, column, user, host, privs in session.query(
                "SELECT Db, Table_name, Column_name, User, Host, Column_priv FROM mysql.columns_priv"):
            ref = ObjectRef(COLUMN, _text(db), _text(table), _text(column))
            held = _set(privs)
            if held:
                columns.setdefault(ref, {})[traits.identity(_text(user), _text(host))] = held
        groups += [AclGroup(COLUMN, ref.schema, frozenset({ref}), grants) for ref, grants in columns.items()]

        routines: dict[ObjectRef, dict[str, frozenset[str]]] = {}
        self.routine_types = {}
        for schema, name, kind in session.query(
                f"SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
                f"WHERE ROUTINE_SCHEMA NOT IN ({in_schemas})"):
            ref = ObjectRef(FUNCTION, _text(schema), _text(name))
            routines[ref] = {}
            self.routine_types[(ref.schema, ref.name)] = _text(kind).upper()
        for db, name, kind, user, host, privs in session.query(
                "SELECT Db, Routine_name, Routine_type, User, Host, Proc_priv FROM mysql.procs_priv"):
            ref = ObjectRef(FUNCTION, _text(db), _text(name))
            self.routine_types.setdefault((ref.schema, ref.name), _text(kind).upper())
            held = _set(privs)
            if held:
                routines.setdefault(ref, {})[traits.identity(_text(user), _text(host))] = held
        groups += _grouped(FUNCTION, routines)

        return DatabaseState(server_version=_text(version), admin_user=_text(admin), roles=roles, acl_groups=groups,
                             default_acls=[], schema_owners={}, queries=session.queries - start)

    # ------------------------------------------------------------ render

    def account(self, name: str, host: str) -> str:
        """An account or role reference: 'user'@'host', or a bare MariaDB role name."""
        if self.dialect.mariadb and host == "":
            return ident(name)
        return f"{literal(name)}@{literal(host)}"

    def role(self, name: str) -> str:
        return self.account(name, self.traits.role_host)

    def statements(self, change: c.Change, password: str | None = None, session: Session | None = None
                   ) -> list[Statement]:
        texts = self._render(change, password, executing=session is not None)
        return [Statement(display=_masked(text, password), query=text) for text in texts]

    def _password_clause(self, password: str | None) -> str:
        if self.dialect.mariadb:
            if password is None:
                return f"IDENTIFIED BY PASSWORD {HASH_PLACEHOLDER}"
            value = native_password_hash(password)
            redact.register(value)
            return f"IDENTIFIED BY PASSWORD {literal(value)}"
        return f"IDENTIFIED BY {literal(password) if password is not None else PASSWORD_PLACEHOLDER}"

    def _render(self, change: c.Change, password: str | None, executing: bool) -> list[str]:
        if isinstance(change, c.CreateRole):
            return self._create(change, password, executing)
        if isinstance(change, c.AlterRole):
            return self._alter(change)
        if isinstance(change, c.DropRole):
            verb = "DROP ROLE" if self.dialect.mariadb and change.host == "" else "DROP USER"
            drop = [f"{verb} {self.account(change.name, change.host)}"]
            return drop + self._forget(change.name, change.host)
        if isinstance(change, (c.SetPassword, c.ResetPassword, c.FinishPendingPassword)):
            return [f"ALTER USER {self.account(change.name, change.host)} {self._password_clause(password)}"]
        if isinstance(change, c.GrantMembership):
            return [f"GRANT {self.role(change.role)} TO {self.account(change.member, change.host)}"]
        if isinstance(change, c.RevokeMembership):
            return [f"REVOKE {self.role(change.role)} FROM {self.account(change.member, change.host)}"]
        if isinstance(change, c.GrantPrivileges):
            return self._privileges(change)
        if isinstance(change, c.SetDefaultRoles):
            return self._default_roles(change)
        raise TypeError(f"{change.type_name} does not apply to MySQL/MariaDB")

    def _create(self, change: c.CreateRole, password: str | None, executing: bool) -> list[str]:
        account = self.account(change.name, change.host)
        if not change.login:
            texts = [f"CREATE ROLE {self.role(change.name)}"]
        else:
            if change.secret:
                options = self._password_clause(password)
            elif executing:
                # A user whose password no secret holds yet (the alternating clone): a random one nobody knows,
                # never an empty password; the first rotation sets the real one.
                throwaway = random_source.token_urlsafe(32)
                redact.register(throwaway)
                options = self._password_clause(throwaway)
            else:
                options = f"IDENTIFIED BY {UNKNOWN_PLACEHOLDER}"
            if change.require_tls:
                options += " REQUIRE SSL"
            if change.connection_limit:
                options += f" WITH MAX_USER_CONNECTIONS {int(change.connection_limit)}"
            texts = [f"CREATE USER {account} {options}"]
        if change.comment:
            texts += self._comment(change.name, change.host, change.comment)
        return texts

    def _comment(self, name: str, host: str, comment: str) -> list[str]:
        if self.dialect.mariadb:
            return [f"INSERT INTO {ident(META_DATABASE)}.accounts (user, host, comment) VALUES "
                    f"({literal(name)}, {literal(host)}, {literal(comment)}) "
                    f"ON DUPLICATE KEY UPDATE comment = VALUES(comment)"]
        return [f"ALTER USER {self.account(name, host)} COMMENT {literal(comment)}"]

    def _forget(self, name: str, host: str) -> list[str]:
        if self.dialect.mariadb:
            return [f"DELETE FROM {ident(META_DATABASE)}.accounts WHERE user = {literal(name)} "
                    f"AND host = {literal(host)}"]
        return []

    def _alter(self, change: c.AlterRole) -> list[str]:
        account = self.account(change.name, change.host)
        if change.setting == "comment":
            return self._comment(change.name, change.host, str(change.new))
        if change.setting == "connection_limit":
            return [f"ALTER USER {account} WITH MAX_USER_CONNECTIONS {int(change.new or 0)}"]  # type: ignore[call-overload]
        if change.setting == "require_tls":
            return [f"ALTER USER {account} REQUIRE {'SSL' if change.new else 'NONE'}"]
        raise ProvisionerError(f"cannot change {change.setting} of {change.name} on MySQL/MariaDB",
                               "a login account and a role cannot turn into each other: drop and re-create it")

    def _default_roles(self, change: c.SetDefaultRoles) -> list[str]:
        account = self.account(change.name, change.host)
        if self.dialect.mariadb:
            if len(change.new) > 1:
                raise ProvisionerError("MariaDB activates one default role per account")
            role = self.role(change.new[0]) if change.new else "NONE"
            return [f"SET DEFAULT ROLE {role} FOR {account}"]
        roles = ", ".join(self.role(r) for r in change.new) or "NONE"
        return [f"ALTER USER {account} DEFAULT ROLE {roles}"]

    def _privileges(self, change: c.GrantPrivileges) -> list[str]:
        revoke = isinstance(change, c.RevokePrivileges)
        for privilege in change.privileges:
            if not _PRIVILEGE.match(privilege):
                raise ValueError(f"unexpected privilege name {privilege!r}")
        grantee = ", ".join(self.account(name, host) for name, host in change.grantees)
        verb, preposition = ("REVOKE", "FROM") if revoke else ("GRANT", "TO")
        privs = ", ".join(change.privileges)
        if change.kind == COLUMN:
            columns = ", ".join(ident(ref.column) for ref in change.objects)
            first = change.objects[0]
            listed = ", ".join(f"{p} ({columns})" for p in change.privileges)
            return [f"{verb} {listed} ON {ident(first.schema)}.{ident(first.name)} {preposition} {grantee}"]
        texts = []
        for ref in change.objects:
            if change.kind == GLOBAL:
                target = "*.*"
            elif change.kind == FUNCTION:
                kind = self.routine_types.get((ref.schema, ref.name), "FUNCTION")
                target = f"{kind} {ident(ref.schema)}.{ident(ref.name)}"
            elif ref.is_wildcard:
                target = f"{ident(ref.schema)}.*"
            else:
                target = f"{ident(ref.schema)}.{ident(ref.name)}"
            texts.append(f"{verb} {privs} ON {target} {preposition} {grantee}")
        return texts

    # ------------------------------------------------------------ apply and rotation

    @contextmanager
    def target_lock(self, session: Session, target: str, timeout_seconds: int | None = None) -> Iterator[None]:
        assert isinstance(session, MySQLSession)
        name = "provisioner:" + hashlib.sha256(target.encode()).hexdigest()[:40]
        wait = timeout_seconds or LOCK_TIMEOUT_SECONDS
        [(acquired,)] = session.query("SELECT GET_LOCK(%s, %s)", (name, wait))
        if acquired != 1:
            raise ProvisionerError(f"target {target} stayed locked by another apply or rotation for {wait}s",
                                   "try again when it has finished")
        try:
            yield
        finally:
            if session.conn.open:
                session.query("SELECT RELEASE_LOCK(%s)", (name,))

    @contextmanager
    def transaction(self, session: Session) -> Iterator[None]:
        """No transaction (MySQL commits account statements implicitly); MariaDB: the marker table exists."""
        assert isinstance(session, MySQLSession)
        if self.dialect.mariadb:
            session.query(f"CREATE DATABASE IF NOT EXISTS {ident(META_DATABASE)}")
            session.query(f"CREATE TABLE IF NOT EXISTS {ident(META_DATABASE)}.accounts ("
                          "user VARCHAR(128) NOT NULL, host VARCHAR(255) NOT NULL, comment TEXT NOT NULL, "
                          "PRIMARY KEY (user, host)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
        yield

    def set_password(self, session: Session, user: str, host: str | None, password: str) -> None:
        assert isinstance(session, MySQLSession)
        redact.register(password)
        if user == session.user:
            # Any account may change its own password; MariaDB's SET PASSWORD takes the hash form.
            text = (f"SET PASSWORD = {literal(native_password_hash(password))}" if self.dialect.mariadb
                    else f"ALTER USER CURRENT_USER() IDENTIFIED BY {literal(password)}")
        else:
            if host is None:
                hosts = [_text(h) for (h,) in session.query(
                    "SELECT Host FROM mysql.user WHERE User = %s AND Host <> ''", (user,))]
                if len(hosts) != 1:
                    raise ProvisionerError(f"user {user!r} exists with {len(hosts)} host parts ({', '.join(hosts)})",
                                           "keep one account per user name for rotation")
                host = hosts[0]
            text = f"ALTER USER {self.account(user, host)} {self._password_clause(password)}"
        session.execute(Statement(display=_masked(text, password), query=text))


PASSWORD_PLACEHOLDER = "'<password from the secret>'"
HASH_PLACEHOLDER = "'<hash of the password from the secret>'"
UNKNOWN_PLACEHOLDER = "'<random password, set by the first rotation>'"


def _masked(text: str, password: str | None) -> str:
    if password is None:
        return text
    shown = text.replace(literal(password), PASSWORD_PLACEHOLDER)
    return shown.replace(literal(native_password_hash(password)), HASH_PLACEHOLDER)


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8")
    return "" if value is None else str(value)


def _set(value: Any) -> frozenset[str]:
    """A grant table SET column ('Select,Insert' or a Python set) as privilege names."""
    items = value if isinstance(value, (set, frozenset)) else {v for v in _text(value).split(",") if v}
    return frozenset(privilege_name(_text(v)) for v in items)


def _grouped(kind: str, objects: dict[ObjectRef, dict[str, frozenset[str]]]) -> list[AclGroup]:
    """Objects of one schema with identical grants share one group (the diff's unit of work)."""
    buckets: dict[tuple[str, frozenset[tuple[str, frozenset[str]]]], set[ObjectRef]] = defaultdict(set)
    for ref, grants in objects.items():
        buckets[(ref.schema, frozenset(grants.items()))].add(ref)
    return [AclGroup(kind, schema, frozenset(refs), dict(grants)) for (schema, grants), refs in buckets.items()]
