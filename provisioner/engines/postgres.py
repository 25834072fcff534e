"""PostgreSQL: catalog inspection in a constant number of queries, statements composed with psycopg.sql,
passwords sent as SCRAM-SHA-256 verifiers computed client-side (by libpq), applies under an advisory lock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from .. import changes as c
from .. import names, redact
from ..errors import ProvisionerError
from ..model import AclGroup, DatabaseState, DefaultAcl, ObjectRef, RoleState, Traits
from ..privileges import COLUMN, DATABASE, FUNCTION, POSTGRES, SCHEMA, SEQUENCE, TABLE
from .base import AuthenticationFailed, ConnInfo, DatabaseUnreachable, Engine, Session, Statement

POSTGRES_TRAITS = Traits(implied_grants=True, schema_wildcards=True)
KNOWN_PRIVILEGES = frozenset(p for privs in POSTGRES.values() for p in privs)
ATTRIBUTE_RESET = {"SUPERUSER": "NOSUPERUSER", "CREATEDB": "NOCREATEDB", "CREATEROLE": "NOCREATEROLE",
                   "REPLICATION": "NOREPLICATION", "BYPASSRLS": "NOBYPASSRLS", "NOINHERIT": "INHERIT"}
OBJECT_KEYWORD = {TABLE: "TABLE", SEQUENCE: "SEQUENCE", FUNCTION: "ROUTINE", SCHEMA: "SCHEMA",
                  DATABASE: "DATABASE", COLUMN: "TABLE"}
ALL_KEYWORD = {TABLE: "ALL TABLES IN SCHEMA", SEQUENCE: "ALL SEQUENCES IN SCHEMA",
               FUNCTION: "ALL ROUTINES IN SCHEMA"}
DEFAULT_KEYWORD = {TABLE: "TABLES", SEQUENCE: "SEQUENCES", FUNCTION: "FUNCTIONS"}
DEFAULT_OBJTYPE = {"r": TABLE, "S": SEQUENCE, "f": FUNCTION}
# Argument lists come from the catalog (oidvectortypes); this guards the one place raw SQL text is used.
_SAFE_ARGS = re.compile(r'^[\w\s,\[\]."]*$')
AUTH_FAILURE_STATES = {"28P01", "28000"}
NOT_GRANTED_STATES = {"01007", "01006"}  # privilege_not_granted, privilege_not_revoked
PASSWORD_PLACEHOLDER = "'<SCRAM-SHA-256 verifier of the secret>'"

# Acl items as two parallel arrays (grantee, privilege), the owner's own entries left out; grantee 0 is PUBLIC.
_EXPLODE = """
LEFT JOIN LATERAL (
  SELECT array_agg(CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END) AS grantees,
         array_agg(x.privilege_type) AS privs
  FROM aclexplode({acl}) x WHERE x.grantee <> {owner}
) a ON true"""

Q_SERVER = "SELECT current_user, current_setting('server_version'), current_database()"

Q_ROLES = """
SELECT r.rolname, r.rolcanlogin, r.rolconnlimit, shobj_description(r.oid, 'pg_authid'),
       r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid),
       (SELECT substr(c, 6) FROM unnest(r.rolconfig) c WHERE c LIKE 'role=%' LIMIT 1)
FROM pg_roles r WHERE r.rolname !~ '^pg_'"""

Q_OWNED = """
SELECT pg_get_userbyid(d.refobjid), count(*),
       min(CASE WHEN d.dbid = db.oid OR d.dbid = 0
                THEN (SELECT o.type || ' ' || o.identity FROM pg_identify_object(d.classid, d.objid, d.objsubid) o)
           ELSE 'an object in database ' || (SELECT datname FROM pg_database WHERE oid = d.dbid) END)
FROM pg_shdepend d, (SELECT oid FROM pg_database WHERE datname = current_database()) db
WHERE d.deptype = 'o' OR (d.deptype = 'a' AND d.dbid NOT IN (0, db.oid))
GROUP BY d.refobjid"""

Q_DATABASES = """
SELECT d.datname, a.grantees, a.privs FROM pg_database d""" + _EXPLODE.format(
    acl="coalesce(d.datacl, acldefault('d', d.datdba))", owner="d.datdba") + """
WHERE d.datallowconn AND NOT d.datistemplate"""

Q_SCHEMAS = """
SELECT n.nspname, pg_get_userbyid(n.nspowner), a.grantees, a.privs FROM pg_namespace n""" + _EXPLODE.format(
    acl="coalesce(n.nspacl, acldefault('n', n.nspowner))", owner="n.nspowner") + """
WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"""

Q_RELATIONS = """
WITH g AS (
  SELECT n.nspname, CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS kind, c.relowner,
         c.relacl::text AS acl, array_agg(c.relname) AS names
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  GROUP BY 1, 2, 3, 4
)
SELECT g.nspname, g.kind, g.names, a.grantees, a.privs FROM g""" + _EXPLODE.format(
    acl="g.acl::aclitem[]", owner="g.relowner")

Q_FUNCTIONS = """
WITH g AS (
  SELECT n.nspname, p.proowner, p.proacl::text AS acl,
         array_agg(format('%s(%s)', p.proname, pg_catalog.oidvectortypes(p.proargtypes))) AS names
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  GROUP BY 1, 2, 3
)
SELECT g.nspname, g.names, a.grantees, a.privs FROM g""" + _EXPLODE.format(acl="g.acl::aclitem[]", owner="g.proowner")

Q_COLUMNS = """
SELECT n.nspname, c.relname, t.attname, a.grantees, a.privs
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
""" + _EXPLODE.format(acl="t.attacl", owner="c.relowner") + """
WHERE t.attacl IS NOT NULL AND NOT t.attisdropped AND t.attnum > 0"""

Q_DEFAULT_ACLS = """
SELECT pg_get_userbyid(d.defaclrole), coalesce(n.nspname, ''), d.defaclobjtype, a.grantees, a.privs
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace""" + _EXPLODE.format(
    acl="d.defaclacl", owner="d.defaclrole")


def _grants(grantees: list[str] | None, privs: list[str] | None) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for grantee, privilege in zip(grantees or (), privs or (), strict=True):
        found.setdefault(grantee, set()).add(privilege)
    return {k: frozenset(v) for k, v in found.items()}


@contextmanager
def _server_errors(what: str) -> Iterator[None]:
    """Server errors as user-facing errors; permission errors say which privilege is missing."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ProvisionerError(f"the admin lacks a privilege for `{what[:200]}`: {_primary(exc)}",
                               "grant the admin what docs/admin-privileges.md lists for PostgreSQL") from None
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
            raise ProvisionerError(f"lost the connection to the database during `{what[:200]}`: {_primary(exc)}",
                                   "check the network path; a rerun continues from the current state") from None
        raise ProvisionerError(f"the server refused `{what[:200]}`: {_primary(exc)}") from None


def _primary(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None and diag.message_primary else str(exc).strip()
    state = f" (SQLSTATE {exc.sqlstate})" if getattr(exc, "sqlstate", None) else ""
    return redact.redact(primary.splitlines()[0] if primary else type(exc).__name__) + state


class PostgresSession(Session):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.queries = 0
        self.statements = 0
        # (sqlstate, message): a Diagnostic is only readable inside the handler
        self.notices: list[tuple[str | None, str | None]] = []
        conn.add_notice_handler(lambda d: self.notices.append((d.sqlstate, d.message_primary)))

    def query(self, query: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.queries += 1
        with _server_errors("a catalog query"):
            return self.conn.execute(query, params or None).fetchall()

    def execute(self, statement: Statement) -> None:
        self.statements += 1
        self.notices.clear()
        with _server_errors(statement.display):
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


class PostgresEngine(Engine):
    name = "postgres"
    family = "postgres"
    default_port = 5432

    def connect(self, info: ConnInfo, connect_timeout: int = 10) -> PostgresSession:
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

    @property
    def traits(self) -> Traits:
        return POSTGRES_TRAITS

    # ------------------------------------------------------------ inspect

    def inspect(self, session: Session) -> DatabaseState:
        start = session.queries
        admin, version, _ = session.query(Q_SERVER)[0]
        roles: dict[str, RoleState] = {}
        owned = {row[0]: (row[1], row[2] or "") for row in session.query(Q_OWNED)}
        for (name, login, limit, comment, superuser, inherit, createrole, createdb, replication, bypassrls,
             member_of, session_role) in session.query(Q_ROLES):
            flags = {"SUPERUSER": superuser, "NOINHERIT": not inherit, "CREATEROLE": createrole,
                     "CREATEDB": createdb, "REPLICATION": replication, "BYPASSRLS": bypassrls}
            count, example = owned.get(name, (0, ""))
            roles[name] = RoleState(
                name=name, login=login, connection_limit=None if limit < 0 else limit, comment=comment,
                attributes=frozenset(k for k, v in flags.items() if v), member_of=frozenset(member_of),
                owned_objects=count, owned_example=example, session_role=session_role,
            )
        groups: list[AclGroup] = []
        for datname, grantees, privs in session.query(Q_DATABASES):
            groups.append(AclGroup(DATABASE, "", frozenset({ObjectRef(DATABASE, "", datname)}),
                                   _grants(grantees, privs)))
        schema_owners: dict[str, str] = {}
        for nspname, owner, grantees, privs in session.query(Q_SCHEMAS):
            schema_owners[nspname] = owner
            groups.append(AclGroup(SCHEMA, "", frozenset({ObjectRef(SCHEMA, "", nspname)}), _grants(grantees, privs)))
        for nspname, kind, object_names, grantees, privs in session.query(Q_RELATIONS):
            groups.append(AclGroup(kind, nspname, frozenset(ObjectRef(kind, nspname, n) for n in object_names),
                                   _grants(grantees, privs)))
        for nspname, object_names, grantees, privs in session.query(Q_FUNCTIONS):
            groups.append(AclGroup(FUNCTION, nspname,
                                   frozenset(ObjectRef(FUNCTION, nspname, n) for n in object_names),
                                   _grants(grantees, privs)))
        for nspname, relname, attname, grantees, privs in session.query(Q_COLUMNS):
            groups.append(AclGroup(COLUMN, nspname, frozenset({ObjectRef(COLUMN, nspname, relname, attname)}),
                                   _grants(grantees, privs)))
        default_acls = [
            DefaultAcl(owner, schema, DEFAULT_OBJTYPE[objtype], _grants(grantees, privs))
            for owner, schema, objtype, grantees, privs in session.query(Q_DEFAULT_ACLS)
            if objtype in DEFAULT_OBJTYPE
        ]
        return DatabaseState(server_version=version, admin_user=admin, roles=roles, acl_groups=groups,
                             default_acls=default_acls, schema_owners=schema_owners,
                             queries=session.queries - start)

    # ------------------------------------------------------------ render

    def statements(self, change: c.Change, password: str | None = None, session: Session | None = None
                   ) -> list[Statement]:
        return [_statement(q) for q in self._compose(change, password, session)]

    def _compose(self, change: c.Change, password: str | None, session: Session | None) -> list[sql.Composable]:
        ident = sql.Identifier
        if isinstance(change, c.CreateRole):
            create = sql.SQL("CREATE ROLE {} {}").format(ident(change.name),
                                                         sql.SQL("LOGIN" if change.login else "NOLOGIN"))
            if change.secret:
                create = sql.SQL("{} PASSWORD {}").format(create, self._verifier(change.name, password, session))
            if change.connection_limit is not None:
                create = sql.SQL("{} CONNECTION LIMIT {}").format(create, sql.Literal(change.connection_limit))
            parts = [create]
            parts.append(sql.SQL("COMMENT ON ROLE {} IS {}").format(ident(change.name), sql.Literal(change.comment)))
            if change.session_role:
                parts.append(_session_role(change.name, change.session_role))
            return parts
        if isinstance(change, c.AlterRole):
            return [self._alter_role(change)]
        if isinstance(change, c.DropRole):
            return [sql.SQL("DROP ROLE {}").format(ident(change.name))]
        if isinstance(change, (c.SetPassword, c.FinishPendingPassword)):
            return [self._password(change.name, password, session)]
        if isinstance(change, c.ResetPassword):
            return [self._password(change.name, password, session)]
        if isinstance(change, c.GrantMembership):
            return [sql.SQL("GRANT {} TO {}").format(ident(change.role), ident(change.member))]
        if isinstance(change, c.RevokeMembership):
            return [sql.SQL("REVOKE {} FROM {}").format(ident(change.role), ident(change.member))]
        if isinstance(change, c.GrantPrivileges):
            return [self._privileges(change)]
        if isinstance(change, c.GrantDefaultPrivileges):
            return [self._default_privileges(change)]
        raise TypeError(f"not a database change: {change.type_name}")

    def _alter_role(self, change: c.AlterRole) -> sql.Composable:
        role = sql.Identifier(change.name)
        if change.setting == "comment":
            return sql.SQL("COMMENT ON ROLE {} IS {}").format(role, sql.Literal(change.new))
        if change.setting == "login":
            return sql.SQL("ALTER ROLE {} {}").format(role, sql.SQL("LOGIN" if change.new else "NOLOGIN"))
        if change.setting == "connection_limit":
            limit = -1 if change.new is None else int(change.new)  # type: ignore[call-overload]
            return sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(role, sql.Literal(limit))
        if change.setting == "session_role":
            return _session_role(change.name, change.new)  # type: ignore[arg-type]
        if change.setting == "attributes":
            resets = [ATTRIBUTE_RESET[a] for a in change.old]  # type: ignore[union-attr]
            return sql.SQL("ALTER ROLE {} {}").format(role, sql.SQL(" ".join(resets)))
        raise ValueError(f"PostgreSQL roles have no setting {change.setting}")

    def _password(self, role: str, password: str | None, session: Session | None) -> sql.Composable:
        return sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role),
                                                            self._verifier(role, password, session))

    def _verifier(self, role: str, password: str | None, session: Session | None) -> sql.Composable:
        if password is None:
            return sql.SQL(PASSWORD_PLACEHOLDER)
        assert isinstance(session, PostgresSession), "a password needs the admin session to compute its verifier"
        return sql.Literal(scram_verifier(session.conn, role, password))

    def _privileges(self, change: c.GrantPrivileges) -> sql.Composable:
        revoke = isinstance(change, c.RevokePrivileges)
        for privilege in change.privileges:
            if privilege not in KNOWN_PRIVILEGES:
                raise ValueError(f"unknown privilege {privilege!r}")
        if change.kind == COLUMN:
            columns = sql.SQL(", ").join(sql.Identifier(ref.column) for ref in change.objects)
            privs = sql.SQL(", ").join(sql.SQL("{} ({})").format(sql.SQL(p), columns) for p in change.privileges)
            first = change.objects[0]
            target = sql.SQL("TABLE {}").format(sql.Identifier(first.schema, first.name))
        else:
            privs = sql.SQL(", ").join(sql.SQL(p) for p in change.privileges)
            if change.all_in_schema:
                target = sql.SQL("{} {}").format(sql.SQL(ALL_KEYWORD[change.kind]), sql.Identifier(change.schema))
            else:
                target = sql.SQL("{} {}").format(sql.SQL(OBJECT_KEYWORD[change.kind]),
                                                 sql.SQL(", ").join(_object(ref) for ref in change.objects))
        template = "REVOKE {} ON {} FROM {}" if revoke else "GRANT {} ON {} TO {}"
        return sql.SQL(template).format(privs, target, _grantees(change.grantees))

    def _default_privileges(self, change: c.GrantDefaultPrivileges) -> sql.Composable:
        revoke = isinstance(change, c.RevokeDefaultPrivileges)
        for privilege in change.privileges:
            if privilege not in KNOWN_PRIVILEGES:
                raise ValueError(f"unknown privilege {privilege!r}")
        scope = sql.SQL(" IN SCHEMA {}").format(sql.Identifier(change.schema)) if change.schema else sql.SQL("")
        action = "REVOKE {} ON {} FROM {}" if revoke else "GRANT {} ON {} TO {}"
        return sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}{} " + action).format(
            sql.Identifier(change.owner), scope, sql.SQL(", ").join(sql.SQL(p) for p in change.privileges),
            sql.SQL(DEFAULT_KEYWORD[change.kind]), _grantees(change.grantees))

    # ------------------------------------------------------------ apply

    @contextmanager
    def target_lock(self, session: Session, target: str, timeout_seconds: int | None = None) -> Iterator[None]:
        assert isinstance(session, PostgresSession)
        if timeout_seconds:
            session.query("SELECT set_config('lock_timeout', %s, false)", (f"{timeout_seconds}s",))
        try:
            session.query("SELECT pg_advisory_lock(%s)", (lock_key(target),))
        except ProvisionerError as exc:
            raise ProvisionerError(f"target {target} stayed locked by another apply or rotation: {exc.message}",
                                   "try again when it has finished") from None
        try:
            yield
        finally:
            if not session.conn.closed:
                session.query("SELECT pg_advisory_unlock(%s)", (lock_key(target),))

    @contextmanager
    def transaction(self, session: Session) -> Iterator[None]:
        assert isinstance(session, PostgresSession)
        with session.conn.transaction():
            yield

    def set_password(self, session: Session, user: str, host: str | None, password: str) -> None:
        session.execute(_statement(self._password(user, password, session)))


def _grantees(grantees: tuple[tuple[str, str], ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(name) for name, _ in grantees)


def _session_role(role: str, session_role: str | None) -> sql.Composable:
    if session_role is None:
        return sql.SQL("ALTER ROLE {} RESET role").format(sql.Identifier(role))
    return sql.SQL("ALTER ROLE {} SET role = {}").format(sql.Identifier(role), sql.Literal(session_role))


def _object(ref: ObjectRef) -> sql.Composable:
    if ref.kind in (DATABASE, SCHEMA):
        return sql.Identifier(ref.name)
    if ref.kind == FUNCTION:
        name, args = names.split_signature(ref.name)
        if not _SAFE_ARGS.match(args):
            raise ValueError(f"unexpected characters in the argument list of {ref}")
        return sql.SQL("{}({})").format(sql.Identifier(ref.schema, name), sql.SQL(args))
    return sql.Identifier(ref.schema, ref.name)


_VERIFIER = re.compile(r"'SCRAM-SHA-256\$[^']*'")


def _statement(query: sql.Composable) -> Statement:
    text = query.as_string(None)
    return Statement(display=_VERIFIER.sub(PASSWORD_PLACEHOLDER, text), query=query)


def scram_verifier(conn: psycopg.Connection, role: str, password: str) -> str:
    """SCRAM-SHA-256 verifier computed by libpq on the client: the server never sees the plaintext."""
    redact.register(password)
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
    redact.register(verifier)
    return verifier


def lock_key(target: str) -> int:
    digest = hashlib.sha256(f"provisioner:{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
