"""PostgreSQL inspection: the catalog queries of `queries` -> `DatabaseState` (roles, ACL groups with the grants
of other grantors apart, default ACLs, schema owners, the server version)."""

from __future__ import annotations

from provisioner.core import names
from provisioner.core.conventions import EVERY_ROLE, DropScope
from provisioner.core.engine_facts import RDS_IAM, major_version
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import AclGroup, DatabaseState, DefaultAcl, ObjectRef, RoleState
from provisioner.engines.base import Session
from provisioner.engines.postgres import queries as q
from provisioner.engines.postgres.kinds import DEFAULT_ACL_KINDS


def grants_of(grantees: list[str] | None, privs: list[str] | None) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for grantee, privilege in zip(grantees or (), privs or (), strict=True):
        found.setdefault(grantee, set()).add(privilege)
    return {k: frozenset(v) for k, v in found.items()}


def group(kind: ObjectKind, schema: str, objects: frozenset[ObjectRef], grantees: list[str] | None,
          privs: list[str] | None, grantable: list[bool] | None, grantors: list[str | None] | None,
          owner: str = "") -> AclGroup:
    """An ACL group from the exploded arrays: privileges held (granted by the owner or the admin), those of them
    held WITH GRANT OPTION, and those granted by any other role (by grantor)."""
    own: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    foreign: dict[str, dict[str, set[str]]] = {}
    for grantee, privilege, option, grantor in zip(grantees or (), privs or (), grantable or (), grantors or (),
                                                   strict=True):
        if grantor is not None:
            foreign.setdefault(grantee, {}).setdefault(grantor, set()).add(privilege)
            continue
        own.append((grantee, privilege))
        if option:
            options.append((grantee, privilege))
    return AclGroup(kind, schema, objects, grants_of([g for g, _ in own], [p for _, p in own]),
                    grants_of([g for g, _ in options], [p for _, p in options]),
                    {grantee: {k: frozenset(v) for k, v in by.items()} for grantee, by in foreign.items()}, owner)


Counts = dict[str, dict[str, int]]


def read_owned(session: Session, names: list[str]) -> tuple[Counts, Counts, dict[str, str]]:
    """For the roles `names`: role -> database -> objects it owns; role -> other database -> its privilege
    entries; an example object."""
    owned: Counts = {}
    held: Counts = {}
    examples: dict[str, str] = {}
    for role, database, objects, entries, example in session.query(q.Q_OWNED, (names,)):
        if objects:
            owned.setdefault(role, {})[database] = objects
        if entries:
            held.setdefault(role, {})[database] = entries
        if example:
            examples[role] = example
    return owned, held, examples


def read_roles(session: Session, scope: DropScope = EVERY_ROLE) -> dict[str, RoleState]:
    """Every role; what they own only for those in `scope` (the roles a plan may drop)."""
    roles: dict[str, RoleState] = {}
    rows = session.query(q.Q_ROLES)
    owned, held, examples = read_owned(session, [row[0] for row in rows if scope.may_drop(row[0], row[3])])
    options: dict[str, dict[str, dict[str, bool]]] = {}
    for member, group_role, admin, inherit, can_set in session.query(q.Q_MEMBERSHIPS):
        found = {"admin": admin, "inherit": inherit, "set": can_set}
        options.setdefault(member, {})[group_role] = {k: v for k, v in found.items() if v is not None}
    settings: dict[str, list[tuple[str, str, str]]] = {}
    for role, database, config in session.query(q.Q_SETTINGS):
        parameter, _, value = config.partition("=")
        settings.setdefault(role, []).append((database, parameter, value))
    for (name, login, limit, comment, superuser, inherit, createrole, createdb, replication, bypassrls,
         member_of, session_role, admin_holds, admin_can_become) in rows:
        flags = {"SUPERUSER": superuser, "NOINHERIT": not inherit, "CREATEROLE": createrole,
                 "CREATEDB": createdb, "REPLICATION": replication, "BYPASSRLS": bypassrls}
        count = sum(owned[name].values()) if name in owned else 0
        roles[name] = RoleState(
            name=name, login=login, connection_limit=None if limit < 0 else limit, comment=comment,
            attributes=frozenset(k for k, v in flags.items() if v), member_of=frozenset(member_of),
            owned_objects=count, owned_example=examples.get(name, ""), owned_in=owned.get(name, {}),
            held_in=held.get(name, {}), session_role=session_role,
            admin_holds=admin_holds, admin_can_become=admin_can_become,
            settings=tuple(sorted(settings.get(name, ()))), membership_options=options.get(name, {}),
            auth="iam" if login and RDS_IAM in member_of else "password",
        )
    return roles


def read_acl_groups(session: Session, database_owner: str, version: str, server_wide: bool = True
                    ) -> tuple[list[AclGroup], dict[str, str], dict[ObjectRef, str]]:
    """The ACL groups of the connected database's objects, and of the cluster's databases, tablespaces and
    parameters (`server_wide`); the owner of each schema; the objects no GRANT may name, with why."""
    groups: list[AclGroup] = []
    for datname, owner, grantees, privs, grantable, grantors in session.query(q.Q_DATABASES) if server_wide else ():
        ref = ObjectRef(ObjectKind.DATABASE, "", datname)
        groups.append(group(ObjectKind.DATABASE, "", frozenset({ref}), grantees, privs, grantable, grantors, owner))
    schema_owners: dict[str, str] = {}
    for nspname, owner, grantees, privs, grantable, grantors in session.query(q.Q_SCHEMAS):
        # PostgreSQL 15+: `public` belongs to pg_database_owner, which stands for the database's owner.
        schema_owners[nspname] = database_owner if owner == "pg_database_owner" else owner
        ref = ObjectRef(ObjectKind.SCHEMA, "", nspname)
        groups.append(group(ObjectKind.SCHEMA, "", frozenset({ref}), grantees, privs, grantable, grantors,
                            schema_owners[nspname]))
    for nspname, kind_name, object_names, owner, grantees, privs, grantable, grantors in session.query(q.Q_RELATIONS):
        kind = ObjectKind(kind_name)
        refs = frozenset(ObjectRef(kind, nspname, n) for n in object_names)
        groups.append(group(kind, nspname, refs, grantees, privs, grantable, grantors, owner))
    for nspname, object_names, owner, grantees, privs, grantable, grantors in session.query(q.Q_FUNCTIONS):
        refs = frozenset(ObjectRef(ObjectKind.FUNCTION, nspname, names.signature(proname, args))
                         for proname, args in object_names)
        groups.append(group(ObjectKind.FUNCTION, nspname, refs, grantees, privs, grantable, grantors, owner))
    for nspname, relname, attname, *acl in session.query(q.Q_COLUMNS):
        column = ObjectRef(ObjectKind.COLUMN, nspname, relname, attname)
        groups.append(group(ObjectKind.COLUMN, nspname, frozenset({column}), *acl))
    for nspname, object_names, owner, grantees, privs, grantable, grantors in session.query(q.Q_TYPES):
        refs = frozenset(ObjectRef(ObjectKind.TYPE, nspname, n) for n in object_names)
        groups.append(group(ObjectKind.TYPE, nspname, refs, grantees, privs, grantable, grantors, owner))
    ungrantable = read_other_objects(session, groups, major_version(version), server_wide)
    return groups, schema_owners, ungrantable


def read_other_objects(session: Session, groups: list[AclGroup], major: int, server_wide: bool
                       ) -> dict[ObjectRef, str]:
    """Languages, foreign data wrappers and servers, large objects, and (`server_wide`) tablespaces and
    parameters, as ACL groups added to `groups`; the untrusted languages, which no GRANT may name."""
    ungrantable: dict[ObjectRef, str] = {}
    rows = session.query(q.objects_query(major, server_wide))
    for kind_name, object_names, owner, can_grant, grantees, privs, grantable, grantors in rows:
        kind = ObjectKind(kind_name)
        refs = frozenset(ObjectRef(kind, "", n) for n in object_names)
        groups.append(group(kind, "", refs, grantees, privs, grantable, grantors, owner))
        if not can_grant:
            ungrantable.update((ref, "is not trusted: only superusers may use it, and GRANT refuses "
                                     "it") for ref in refs)
    return ungrantable


def read_default_acls(session: Session) -> list[DefaultAcl]:
    return [DefaultAcl(owner, schema, DEFAULT_ACL_KINDS[objtype], grants_of(grantees, privs))
            for owner, schema, objtype, grantees, privs in session.query(q.Q_DEFAULT_ACLS)
            if objtype in DEFAULT_ACL_KINDS]


def inspect(session: Session, scope: DropScope = EVERY_ROLE) -> DatabaseState:
    """The cluster's roles and the connected database's objects (what roles own: only for those in `scope`,
    the roles a plan may drop)."""
    start = session.queries
    admin, version, name, database_owner = session.query(q.Q_SERVER)[0]
    roles = read_roles(session, scope)
    groups, schema_owners, ungrantable = read_acl_groups(session, database_owner, version)
    return DatabaseState(server_version=version, admin_user=admin, roles=roles, acl_groups=groups,
                         default_acls=read_default_acls(session), schema_owners=schema_owners,
                         queries=session.queries - start, name=name, ungrantable=ungrantable)


def inspect_other(session: Session, cluster: DatabaseState) -> DatabaseState:
    """Another database of the same cluster: its objects (the roles are the cluster's, read once)."""
    start = session.queries
    _, _, name, database_owner = session.query(q.Q_SERVER)[0]
    groups, schema_owners, ungrantable = read_acl_groups(session, database_owner, cluster.server_version,
                                                        server_wide=False)
    return DatabaseState(server_version=cluster.server_version, admin_user=cluster.admin_user, roles=cluster.roles,
                         acl_groups=groups, default_acls=read_default_acls(session), schema_owners=schema_owners,
                         queries=session.queries - start, name=name, ungrantable=ungrantable)
