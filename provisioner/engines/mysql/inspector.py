"""MySQL/MariaDB inspection: the grant tables and information_schema (`queries`) -> `DatabaseState`. Routines
carry their kind (FUNCTION or PROCEDURE) in their `ObjectRef`, so compiling needs no memory of inspection."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from provisioner.core.kinds import ObjectKind
from provisioner.core.model import AclGroup, DatabaseState, ObjectRef, RoleState, Traits
from provisioner.engines.mysql import queries as q
from provisioner.engines.mysql.dialect import Dialect, privilege_name
from provisioner.engines.mysql.kinds import ROUTINE_KINDS
from provisioner.engines.mysql.session import MissingTable, MySQLSession, text

Grants = dict[str, frozenset[str]]
TABLE, COLUMN = ObjectKind.TABLE, ObjectKind.COLUMN
UserKey = tuple[str, str]


def _held(row: dict[str, Any]) -> frozenset[str]:
    return frozenset(privilege_name(k) for k, v in row.items() if k.endswith("_priv") and text(v) == "Y")


def _set(value: Any) -> frozenset[str]:
    """A grant table SET column ('Select,Insert' or a Python set) as privilege names."""
    items = value if isinstance(value, (set, frozenset)) else {v for v in text(value).split(",") if v}
    return frozenset(privilege_name(text(v)) for v in items)


def _grouped(objects: dict[ObjectRef, Grants]) -> list[AclGroup]:
    """Objects of one kind and schema with identical grants share one group (the diff's unit of work)."""
    buckets: dict[tuple[ObjectKind, str, frozenset[tuple[str, frozenset[str]]]], set[ObjectRef]] = defaultdict(set)
    for ref, grants in objects.items():
        buckets[(ref.kind, ref.schema, frozenset(grants.items()))].add(ref)
    return [AclGroup(kind, schema, frozenset(refs), dict(grants)) for (kind, schema, grants), refs in buckets.items()]


def _account_facts(session: MySQLSession, users: list[dict[str, Any]], mariadb: bool
                   ) -> tuple[dict[UserKey, str], dict[UserKey, set[str]], dict[UserKey, set[str]]]:
    comments: dict[UserKey, str] = {}
    default_roles: dict[UserKey, set[str]] = defaultdict(set)
    if mariadb:
        try:
            for user, host, comment in session.query(q.Q_MARIADB_MARKERS):
                comments[(text(user), text(host))] = text(comment)
        except MissingTable:
            pass  # no marker table yet: nothing was created by the provisioner here
        for row in users:
            if row.get("default_role"):
                default_roles[(text(row["User"]), text(row["Host"]))].add(text(row["default_role"]))
    else:
        for user, host, role in session.query(q.Q_MYSQL_DEFAULT_ROLES):
            default_roles[(text(user), text(host))].add(text(role))
    memberships: dict[UserKey, set[str]] = defaultdict(set)
    for user, host, role in session.query(q.Q_MARIADB_ROLE_EDGES if mariadb else q.Q_MYSQL_ROLE_EDGES):
        memberships[(text(user), text(host))].add(text(role))
    return comments, default_roles, memberships


def read_roles(session: MySQLSession, traits: Traits, mariadb: bool) -> tuple[dict[str, RoleState], Grants]:
    users = session.dict_query(q.Q_USERS)
    comments, default_roles, memberships = _account_facts(session, users, mariadb)
    roles: dict[str, RoleState] = {}
    global_grants: Grants = {}
    for row in users:
        user, host = text(row["User"]), text(row["Host"])
        is_role = text(row.get("is_role", "N")) == "Y" if mariadb else (
            text(row.get("account_locked", "N")) == "Y" and not text(row.get("authentication_string", "")))
        comment = comments.get((user, host))
        if not mariadb and row.get("User_attributes"):
            comment = (json.loads(text(row["User_attributes"])).get("metadata") or {}).get("comment")
        key = traits.identity(user, host)
        roles[key] = RoleState(
            name=user, host=host, login=not is_role, connection_limit=int(row.get("max_user_connections") or 0) or None,
            comment=comment, require_tls=text(row.get("ssl_type", "")) not in ("", "NONE"),
            member_of=frozenset(memberships.get((user, host), ())),
            default_roles=frozenset(default_roles.get((user, host), ())),
            auth="iam" if text(row.get("plugin", "")) == "AWSAuthenticationPlugin" else "password",
        )
        if held := _held(row):
            global_grants[key] = held
    return roles, global_grants


def read_object_grants(session: MySQLSession, traits: Traits) -> list[AclGroup]:
    database_level: dict[str, Grants] = defaultdict(dict)
    for row in session.dict_query(q.Q_DATABASE_GRANTS):
        if held := _held(row):
            database_level[text(row["Db"])][traits.identity(text(row["User"]), text(row["Host"]))] = held
    groups = [AclGroup(TABLE, db, frozenset({ObjectRef(TABLE, db, "*")}), grants)  # database level: `db.*`
              for db, grants in database_level.items()]
    objects: dict[ObjectRef, Grants] = {}
    for schema, name in session.query(q.Q_TABLES, q.SYSTEM_SCHEMAS):
        objects[ObjectRef(TABLE, text(schema), text(name))] = {}
    for db, table, user, host, privs in session.query(q.Q_TABLE_GRANTS):
        if held := _set(privs):
            objects.setdefault(ObjectRef(TABLE, text(db), text(table)), {})[
                traits.identity(text(user), text(host))] = held
    columns: dict[ObjectRef, Grants] = {}
    for db, table, column, user, host, privs in session.query(q.Q_COLUMN_GRANTS):
        if held := _set(privs):
            columns.setdefault(ObjectRef(COLUMN, text(db), text(table), text(column)), {})[
                traits.identity(text(user), text(host))] = held
    groups += [AclGroup(COLUMN, ref.schema, frozenset({ref}), grants) for ref, grants in columns.items()]
    kinds: dict[tuple[str, str], ObjectKind] = {}
    for schema, name, kind in session.query(q.Q_ROUTINES, q.SYSTEM_SCHEMAS):
        kinds[(text(schema), text(name))] = _routine_kind(kind)
        objects[ObjectRef(kinds[(text(schema), text(name))], text(schema), text(name))] = {}
    for db, name, kind, user, host, privs in session.query(q.Q_ROUTINE_GRANTS):
        ref = ObjectRef(kinds.get((text(db), text(name)), _routine_kind(kind)), text(db), text(name))
        if held := _set(privs):
            objects.setdefault(ref, {})[traits.identity(text(user), text(host))] = held
    return groups + _grouped(objects)


def read_dynamic_privileges(session: MySQLSession, traits: Traits, global_grants: Grants) -> None:
    """MySQL 8: the dynamic global privileges, added to each account's global ones."""
    for user, host, privilege in session.query(q.Q_MYSQL_DYNAMIC_PRIVILEGES):
        key = traits.identity(text(user), text(host))
        global_grants[key] = global_grants.get(key, frozenset()) | {text(privilege).upper()}


def read_proxies(session: MySQLSession, traits: Traits) -> list[AclGroup]:
    """PROXY grants: one group per proxied account, holding the accounts that may proxy it."""
    by_proxied: dict[ObjectRef, Grants] = defaultdict(dict)
    for user, host, proxied_user, proxied_host in session.query(q.Q_PROXIES):
        ref = ObjectRef(ObjectKind.PROXY, "", text(proxied_user), text(proxied_host))
        by_proxied[ref][traits.identity(text(user), text(host))] = frozenset({"PROXY"})
    return [AclGroup(ObjectKind.PROXY, "", frozenset({ref}), grants) for ref, grants in sorted(by_proxied.items())]


def _routine_kind(kind: Any) -> ObjectKind:
    return ROUTINE_KINDS.get(text(kind).upper(), ObjectKind.FUNCTION)


def inspect(session: MySQLSession, traits: Traits) -> DatabaseState:
    start = session.queries
    version, admin = session.query(q.Q_SERVER)[0]
    dialect: Dialect = session.dialect
    roles, global_grants = read_roles(session, traits, dialect.mariadb)
    if not dialect.mariadb:
        read_dynamic_privileges(session, traits, global_grants)
    groups = [AclGroup(ObjectKind.GLOBAL, "", frozenset({ObjectRef(ObjectKind.GLOBAL, "", "*")}), global_grants)]
    groups += read_object_grants(session, traits)
    groups += read_proxies(session, traits)
    return DatabaseState(server_version=text(version), admin_user=text(admin), roles=roles, acl_groups=groups,
                         default_acls=[], schema_owners={}, queries=session.queries - start)
