"""PostgreSQL inspection: the catalog queries of `queries` -> `DatabaseState` (roles, ACL groups, default ACLs,
schema owners, the server version)."""

from __future__ import annotations

from provisioner.core.model import AclGroup, DatabaseState, DefaultAcl, ObjectRef, RoleState
from provisioner.core.privileges import DATABASE, FUNCTION, SCHEMA
from provisioner.engines.base import Session
from provisioner.engines.postgres import queries as q

DEFAULT_OBJTYPE = {"r": "table", "S": "sequence", "f": FUNCTION}


def grants_of(grantees: list[str] | None, privs: list[str] | None) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for grantee, privilege in zip(grantees or (), privs or (), strict=True):
        found.setdefault(grantee, set()).add(privilege)
    return {k: frozenset(v) for k, v in found.items()}


def group(kind: str, schema: str, objects: frozenset[ObjectRef], grantees: list[str] | None,
          privs: list[str] | None, grantable: list[bool] | None) -> AclGroup:
    """An ACL group from the exploded arrays: privileges held, and those held WITH GRANT OPTION."""
    options = [(g, p) for g, p, o in zip(grantees or (), privs or (), grantable or (), strict=True) if o]
    return AclGroup(kind, schema, objects, grants_of(grantees, privs),
                    grants_of([g for g, _ in options], [p for _, p in options]))


def read_roles(session: Session) -> dict[str, RoleState]:
    roles: dict[str, RoleState] = {}
    owned = {row[0]: (row[1], row[2] or "") for row in session.query(q.Q_OWNED)}
    for (name, login, limit, comment, superuser, inherit, createrole, createdb, replication, bypassrls,
         member_of, session_role) in session.query(q.Q_ROLES):
        flags = {"SUPERUSER": superuser, "NOINHERIT": not inherit, "CREATEROLE": createrole,
                 "CREATEDB": createdb, "REPLICATION": replication, "BYPASSRLS": bypassrls}
        count, example = owned.get(name, (0, ""))
        roles[name] = RoleState(
            name=name, login=login, connection_limit=None if limit < 0 else limit, comment=comment,
            attributes=frozenset(k for k, v in flags.items() if v), member_of=frozenset(member_of),
            owned_objects=count, owned_example=example, session_role=session_role,
        )
    return roles


def read_acl_groups(session: Session) -> tuple[list[AclGroup], dict[str, str]]:
    groups: list[AclGroup] = []
    for datname, *acl in session.query(q.Q_DATABASES):
        groups.append(group(DATABASE, "", frozenset({ObjectRef(DATABASE, "", datname)}), *acl))
    schema_owners: dict[str, str] = {}
    for nspname, owner, *acl in session.query(q.Q_SCHEMAS):
        schema_owners[nspname] = owner
        groups.append(group(SCHEMA, "", frozenset({ObjectRef(SCHEMA, "", nspname)}), *acl))
    for nspname, kind, object_names, *acl in session.query(q.Q_RELATIONS):
        groups.append(group(kind, nspname, frozenset(ObjectRef(kind, nspname, n) for n in object_names), *acl))
    for nspname, object_names, *acl in session.query(q.Q_FUNCTIONS):
        groups.append(group(FUNCTION, nspname, frozenset(ObjectRef(FUNCTION, nspname, n) for n in object_names), *acl))
    for nspname, relname, attname, *acl in session.query(q.Q_COLUMNS):
        groups.append(group("column", nspname, frozenset({ObjectRef("column", nspname, relname, attname)}), *acl))
    return groups, schema_owners


def inspect(session: Session) -> DatabaseState:
    start = session.queries
    admin, version, _ = session.query(q.Q_SERVER)[0]
    roles = read_roles(session)
    groups, schema_owners = read_acl_groups(session)
    default_acls = [
        DefaultAcl(owner, schema, DEFAULT_OBJTYPE[objtype], grants_of(grantees, privs))
        for owner, schema, objtype, grantees, privs in session.query(q.Q_DEFAULT_ACLS)
        if objtype in DEFAULT_OBJTYPE
    ]
    return DatabaseState(server_version=version, admin_user=admin, roles=roles, acl_groups=groups,
                         default_acls=default_acls, schema_owners=schema_owners, queries=session.queries - start)
