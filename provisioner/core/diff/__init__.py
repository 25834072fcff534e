"""Diff: (desired, current) -> ordered list of changes. A pure function: no I/O, no SQL.

Authoritative for the accounts and roles the manifest names: what the file does not declare is revoked.
Never touches roles the file does not name, except those the provisioner itself created for this target and
that left the file (they are dropped). The parts: `access` (what a principal should hold), `grants`
(privilege and default-privilege changes), `roles` (create/alter/drop, memberships), `secrets`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from provisioner.core import changes as c
from provisioner.core import names
from provisioner.core.conventions import account_of, parse_marker, secret_database, secret_name
from provisioner.core.diff.access import DesiredAccess, desired_access, provided_by, too_new
from provisioner.core.diff.context import AclIndex, DiffContext, DiffOptions, DiffResult, Grantee
from provisioner.core.diff.creators import schema_creators
from provisioner.core.diff.expiry import as_of
from provisioner.core.diff.ownership import owned_by_accounts, plan_owners
from provisioner.core.diff.public import declared as public_declared
from provisioner.core.diff.public import public_changes, public_schemas
from provisioner.core.diff.roles import database_principals, drop_role, object_changes, reconcile_role
from provisioner.core.diff.secrets import secret_changes
from provisioner.core.engine_facts import RDS_IAM, facts
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import CurrentState, DatabaseState, Grant, Principal, RoleState, Target, Traits

ROUTINE_KINDS = (ObjectKind.FUNCTION, ObjectKind.PROCEDURE)
__all__ = ["AclIndex", "DesiredAccess", "DiffContext", "DiffOptions", "DiffResult", "Grantee",
           "database_principals", "diff_target"]


def diff_target(
    target: Target, principals: Iterable[Principal], state: CurrentState, options: DiffOptions | None = None,
    traits: Traits | None = None,
) -> DiffResult:
    """Everything that must change on one target for the live state to match the manifest."""
    traits = traits or Traits()
    db = state.database
    assert db is not None, "diff_target needs an inspected database"
    connected = str(state.connection["dbname"]) if state.connection.get("dbname") else None
    # Group roles carry the engine's role host part (MariaDB: '', MySQL: '%').
    principals = [p if p.login or p.host == traits.role_host else replace(p, host=traits.role_host)
                  for p in principals]
    principals = routines_as_found(principals, db)
    principals, expiry_notes = as_of(principals, (options or DiffOptions()).now)
    owned = plan_owners(target, principals, db, "")
    ctx = DiffContext(target=target, state=state, db=owned.db, traits=traits, options=options or DiffOptions(),
                      index=AclIndex.build(owned.db.acl_groups), database=secret_database(target, connected))
    ctx.result.labels.update({p.name: p.kind for p in principals})
    ctx.result.warnings += expiry_notes
    ctx.present = {m.name for p in principals if p.state == "present" for m in database_principals(p, target.engine)}
    ctx.subs = {name: _other_database(ctx, principals, name, other) for name, other in sorted(state.others.items())}
    ctx.result.changes += owned.changes
    ctx.result.errors += owned.errors
    _creators_and_public(ctx, principals)
    _present(ctx, principals)
    _owned_by_accounts(ctx, principals)
    dropped, kept = _absent(ctx, principals)
    _leaving(ctx, principals, dropped, kept)
    _deleted_secrets(ctx, principals, dropped, kept)
    for name, sub in ctx.subs.items():
        ctx.result.changes += [replace(change, database=name) for change in sub.result.changes]
        ctx.result.warnings += sub.result.warnings
        ctx.result.errors += sub.result.errors
        ctx.result.labels.update(sub.result.labels)
    ctx.result.changes = c.in_order(ctx.result.changes)
    return ctx.result


def _creators_and_public(ctx: DiffContext, principals: list[Principal]) -> None:
    """In every database: who creates in each schema a wildcard names, and PUBLIC's declared state."""
    members = [m for p in principals for m in database_principals(p, ctx.target.engine)]
    for each in ctx.every_database():
        if ctx.traits.schema_wildcards:
            each.creators = schema_creators(ctx.target, each.db, each.index.groups.get((ObjectKind.SCHEMA, ""), []),
                                            [scoped(m, each.scope) for m in members], each.result.warnings,
                                            public_schemas(ctx.target, each.scope))
        public_changes(each)


def _owned_by_accounts(ctx: DiffContext, principals: list[Principal]) -> None:
    """A warning for what each managed login account owns, in every database (SPEC 9)."""
    accounts = {ctx.traits.identity(m.name, m.host): p.name for p in principals if p.login and p.state == "present"
                for m in database_principals(p, ctx.target.engine) if m.name != ctx.db.admin_user}
    for each in ctx.every_database():
        each.result.warnings += owned_by_accounts(each.db, accounts, each.place)


def _other_database(ctx: DiffContext, principals: list[Principal], name: str, db: DatabaseState) -> DiffContext:
    """The context of another database of the cluster, after the transfers of ownership its objects get."""
    owned = plan_owners(ctx.target, principals, db, name)
    sub = ctx.other_database(name, owned.db)
    sub.result.changes += owned.changes
    sub.result.errors += owned.errors
    return sub


def scoped(p: Principal, scope: str) -> Principal:
    """The principal with the grants on objects of one database only."""
    if all(g.database == scope for g in p.grants):
        return p
    return replace(p, grants=tuple(g for g in p.grants if g.database == scope))


def routines_as_found(principals: list[Principal], db: DatabaseState) -> list[Principal]:
    """MySQL/MariaDB routines are a FUNCTION or a PROCEDURE: a grant declared under one key for a routine the
    server knows as the other refers to the routine the server has (inspection says which it is)."""
    found = {(ref.schema, ref.name): ref.kind for g in db.acl_groups if g.kind in ROUTINE_KINDS for ref in g.objects}
    if not any(kind == ObjectKind.PROCEDURE for kind in found.values()) and not any(
            g.obj.kind == ObjectKind.PROCEDURE for p in principals for g in p.grants):
        return principals

    def as_found(grant: Grant) -> Grant:
        kind = found.get((grant.obj.schema, grant.obj.name))
        if grant.obj.kind in ROUTINE_KINDS and kind and kind != grant.obj.kind:
            return replace(grant, obj=replace(grant.obj, kind=kind))
        return grant

    return [replace(p, grants=tuple(as_found(g) for g in p.grants)) for p in principals]


def _present(ctx: DiffContext, principals: list[Principal]) -> None:
    engine = ctx.target.engine
    members = [m for p in principals for m in database_principals(p, engine)]
    provided = {each.scope: provided_by(members, each.db, each.database, ctx.traits,
                                        public_declared(ctx.target, each.scope), each.scope)
                for each in ctx.every_database()}
    present = sorted((p for p in principals if p.state == "present"), key=lambda p: (p.login, p.name))
    for p in present:
        iam = p.login and p.auth == "iam"
        secret = secret_name(p, ctx.target, ctx.database) if p.login and not iam else None
        if iam and facts(engine).iam_authentication == "role":
            p = with_rds_iam(ctx, p)
        p, unavailable = too_new(p, ctx.traits, facts(engine).label)
        ctx.result.errors += unavailable
        for member in database_principals(p, engine):
            holder = secret if member.name == p.name else None
            access = desired_access(member, ctx.database, ctx.traits, provided[""](member))
            if not reconcile_role(ctx, member, p.name, access, holder):
                continue
            for sub in ctx.subs.values():
                elsewhere = desired_access(member, None, ctx.traits, provided[sub.scope](member), sub.scope)
                object_changes(sub, sub.grantee(member.name, member.host, p.name), elsewhere)
        if p.login and not iam and p.name != ctx.db.admin_user:
            created = ctx.traits.identity(p.name, p.host) not in ctx.db.roles
            secret_changes(ctx, p, created)


def with_rds_iam(ctx: DiffContext, p: Principal) -> Principal:
    """PostgreSQL on RDS/Aurora: IAM authentication is membership in rds_iam (no password)."""
    if RDS_IAM not in ctx.db.roles:
        ctx.result.errors.append(f"{p.name}: `auth: iam` needs the role {RDS_IAM}, which target {ctx.target.name} "
                                 f"does not have: it is not RDS or Aurora PostgreSQL")
    return replace(p, member_of=(*p.member_of, RDS_IAM)) if RDS_IAM not in p.member_of else p


def _absent(ctx: DiffContext, principals: list[Principal]) -> tuple[set[str], set[str]]:
    dropped: set[str] = set()
    kept: set[str] = set()
    for p in (p for p in principals if p.state == "absent"):
        for member in database_principals(p, ctx.target.engine):
            identity = ctx.traits.identity(member.name, member.host)
            role = ctx.db.roles.get(identity)
            if not role or member.name == ctx.db.admin_user:
                continue
            marker = parse_marker(role.comment)
            if marker is not None and marker.target != ctx.target.name:
                # SPEC 8: a target touches only its own; `absent` is no way around that.
                ctx.result.errors.append(
                    f"{member.name} is declared absent, but it is managed by target {marker.target!r} (same "
                    f"server): only that target may drop it")
                kept.add(member.name)
                continue
            (dropped if drop_role(ctx, identity, role, retire=p.retire) else kept).add(member.name)
    return dropped, kept


def _leaving(ctx: DiffContext, principals: list[Principal], dropped: set[str], kept: set[str]) -> None:
    """Roles this target created that the manifest no longer names: dropped (adopted ones are left)."""
    named = {ctx.traits.identity(m.name, m.host) for p in principals
             for m in database_principals(p, ctx.target.engine)}
    leaving: dict[str, RoleState] = {}
    for identity, role in sorted(ctx.db.roles.items()):
        marker = parse_marker(role.comment)
        if identity not in named and marker and marker.target == ctx.target.name:
            leaving[identity] = role
    writers = marker_writers(ctx) if leaving and ctx.traits.marker_table else []
    if writers:
        # SPEC 8: a marker row anyone but the admin could have written proves nothing: no drop rests on it.
        ctx.result.errors.append(
            f"{', '.join(sorted(r.name for r in leaving.values()))} would be dropped as created by target "
            f"{ctx.target.name}, but {', '.join(writers)} can write {ctx.traits.marker_table} (where those markers "
            f"live), so they may be forged. Revoke that access, check {ctx.traits.marker_table}.accounts, then run "
            f"the plan again")
        kept.update(role.name for role in leaving.values())
        return
    leaving_names = {role.name for role in leaving.values()}
    for identity, role in leaving.items():
        marker = parse_marker(role.comment)
        if marker is not None and marker.adopted:
            ctx.result.warnings.append(f"{role.name} left the manifest; it was adopted, not created, so it is "
                                       f"left as is")
            kept.add(role.name)
            continue
        owner = account_of(role.name, leaving_names)
        (dropped if drop_role(ctx, identity, role, owner) else kept).add(role.name)


# Privileges that change a table's rows or the table itself (MySQL/MariaDB names).
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "DROP", "CREATE", "ALTER", "INDEX", "TRIGGER", "CREATE VIEW",
                    "DELETE HISTORY", "ALL PRIVILEGES", "ALL"})


def marker_writers(ctx: DiffContext) -> list[str]:
    """The accounts other than the admin that can write the marker table, by global, database-level or table
    grants, without being able to drop accounts themselves (CREATE USER): those a forged marker would let steer
    the tool."""
    table = ctx.traits.marker_table
    found = set()
    for group in ctx.db.acl_groups:
        if group.kind == ObjectKind.GLOBAL:
            reaches = True
        elif group.kind == ObjectKind.TABLE and group.schema:
            reaches = any((names.mysql_pattern_matches(ref.schema, table) if ref.is_wildcard
                           else ref.schema.lower() == table) for ref in group.objects)
        else:
            reaches = False
        if reaches:
            found |= {grantee for grantee, privs in group.grants.items() if privs & WRITES}
    creators = {grantee for group in ctx.db.acl_groups if group.kind == ObjectKind.GLOBAL
                for grantee, privs in group.grants.items() if "CREATE USER" in privs}
    admin = {identity for identity, role in ctx.db.roles.items() if role.name == ctx.db.admin_user}
    return sorted(found - creators - admin)


def _deleted_secrets(ctx: DiffContext, principals: list[Principal], dropped: set[str], kept: set[str]) -> None:
    """The secrets of this target's accounts that go: those of dropped accounts, of accounts gone from the
    database, and of accounts now authenticated by IAM (no password, no secret)."""
    present = [p for p in principals if p.state == "present" and p.login]
    with_secret = {p.name for p in present if p.auth != "iam"}
    going = dropped | {p.name for p in present if p.auth == "iam"}
    recovery = {p.name: p.secret.recovery_days for p in principals if p.state == "absent"}
    in_database = {role.name for role in ctx.db.roles.values()}
    for secret in sorted(ctx.state.secrets.values(), key=lambda s: s.name):
        mine = secret.target == ctx.target.name and not secret.deleted and secret.account not in with_secret
        gone = secret.account not in in_database and secret.account not in kept
        if mine and (secret.account in going or gone):
            ctx.result.changes.append(c.DeleteSecret(action=c.DESTROY, target=ctx.target.name,
                                                     principal=secret.account, secret=secret.name,
                                                     recovery_days=recovery.get(secret.account, 7)))
