"""PUBLIC as declared state (PostgreSQL): on the objects a target's `public_privileges` names, PUBLIC holds the
`grants` and none of the `revoke` privileges; nothing else of PUBLIC is touched. `functions: [s.*]` under revoke
also takes EXECUTE from PUBLIC on the functions each creator of `s` makes later (global default privileges:
per-schema ones can only add to the built-in PUBLIC EXECUTE)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from provisioner.core import changes as c
from provisioner.core.diff.context import DiffContext
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import Grant, ObjectRef, Target, ref_order

PUBLIC = "PUBLIC"


def public_schemas(target: Target, scope: str = "") -> set[str]:
    """Schemas (of the database `scope`) whose future functions a `revoke` reaches (their creators need default
    privileges)."""
    return {g.obj.schema for g in target.public_revoke
            if g.obj.kind == ObjectKind.FUNCTION and g.obj.is_wildcard and g.database == scope}


def declared(target: Target, scope: str = "") -> tuple[set[tuple[ObjectRef, str]], set[tuple[ObjectRef, str]]]:
    """(revoked, granted) (database or schema, privilege) pairs: what implied CONNECT/USAGE can count on."""
    def pairs(grants: tuple[Grant, ...]) -> set[tuple[ObjectRef, str]]:
        return {(g.obj, p) for g in grants if g.obj.kind in (ObjectKind.DATABASE, ObjectKind.SCHEMA)
                and g.database == scope for p in g.privileges}

    return pairs(target.public_revoke), pairs(target.public_grants)


def _objects(ctx: DiffContext, grant: Grant) -> list[ObjectRef]:
    ref = grant.obj
    if not ref.is_wildcard:
        if ref not in ctx.index.group_of:
            ctx.result.errors.append(f"public_privileges: {ref.kind} {ref} does not exist on {ctx.place}")
            return []
        return [ref]
    return sorted((r for g in ctx.index.groups.get((ref.kind, ref.schema), []) for r in g.objects), key=ref_order)


def _held(ctx: DiffContext, ref: ObjectRef) -> frozenset[str]:
    return frozenset().union(*(g.grants.get(PUBLIC, frozenset()) for g in ctx.index.group_of.get(ref, [])))


def public_changes(ctx: DiffContext) -> None:
    target = ctx.target
    if not (target.public_revoke or target.public_grants):
        return
    ctx.result.labels[PUBLIC] = "role"
    base: dict[str, Any] = {"target": target.name, "principal": PUBLIC, "grantee": PUBLIC}
    for grants, make in ((target.public_grants, c.GrantPrivileges), (target.public_revoke, c.RevokePrivileges)):
        buckets: dict[tuple[ObjectKind, str, frozenset[str]], list[ObjectRef]] = defaultdict(list)
        for grant in (g for g in grants if g.database == ctx.scope):
            for ref in _objects(ctx, grant):
                held = _held(ctx, ref)
                todo = grant.privileges - held if make is c.GrantPrivileges else grant.privileges & held
                if todo:
                    buckets[(ref.kind, ref.schema, frozenset(todo))].append(ref)
        for (kind, schema, privileges), refs in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                         sorted(kv[0][2]))):
            ctx.result.changes.append(make(action=c.ADD if make is c.GrantPrivileges else c.DESTROY, kind=kind,
                                           schema=schema, objects=tuple(refs), privileges=tuple(sorted(privileges)),
                                           **base))
    _future_functions(ctx, base)


def _future_functions(ctx: DiffContext, base: dict[str, Any]) -> None:
    revoked_globally = {acl.owner for acl in ctx.db.default_acls
                        if acl.kind == ObjectKind.FUNCTION and not acl.schema
                        and "EXECUTE" not in acl.grants.get(PUBLIC, ())}
    creators = {r for schema in sorted(public_schemas(ctx.target, ctx.scope)) for r in ctx.creators.get(schema, ())}
    for creator in sorted(creators - revoked_globally):
        ctx.result.changes.append(c.RevokeDefaultPrivileges(action=c.DESTROY, owner=creator, schema="",
                                                            kind=ObjectKind.FUNCTION, privileges=("EXECUTE",), **base))
