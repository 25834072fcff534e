"""Ownership (SPEC 9): the owners the manifest's roles declare (`owns:`), the transfers that make the server
agree, the state those transfers leave behind (a transfer rewrites the object's ACL: the new owner's grants
merge into its ownership, the old owner keeps nothing), and the warning about what managed login accounts own
(an owner holds every privilege on what it owns, outside the file's reach).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from provisioner.core import changes as c
from provisioner.core.kinds import Container, ObjectKind, spec
from provisioner.core.model import AclGroup, DatabaseState, ObjectRef, Principal, Target

SHOWN = 3  # objects named in a warning before "and N more"


@dataclass
class Ownership:
    """What ownership adds to one database's diff: the transfers, problems, and the state after the transfers."""

    db: DatabaseState
    changes: list[c.AnyChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def current_owners(db: DatabaseState) -> dict[ObjectRef, str]:
    """The owner of every object `owns:` may name (schemas through `schema_owners`; '' where it is not known, as
    in the offline diff's catalog)."""
    found = {ObjectRef(ObjectKind.SCHEMA, "", schema): owner for schema, owner in db.schema_owners.items()}
    for group in db.acl_groups:
        if spec(group.kind).ownable and group.kind != ObjectKind.SCHEMA:
            found.update((ref, group.owner) for ref in group.objects)
    return found


def desired_owners(principals: Iterable[Principal], scope: str, owners: dict[ObjectRef, str], errors: list[str]
                   ) -> dict[ObjectRef, str]:
    """object -> the role that declares it owns it, in database `scope`; `schema.*` is every object of the kind
    in the schema now. Missing objects and objects two roles claim are errors."""
    wanted: dict[ObjectRef, str] = {}
    by_key: dict[tuple[ObjectKind, str], list[ObjectRef]] = defaultdict(list)
    for ref in owners:
        by_key[(ref.kind, ref.schema)].append(ref)
    for p in principals:
        if p.state != "present":
            continue
        for owned in (o for o in p.owns if o.database == scope):
            ref = owned.obj
            refs = sorted(by_key.get((ref.kind, ref.schema), [])) if ref.is_wildcard else [ref]
            if not ref.is_wildcard and ref not in owners:
                where = f" (database {scope})" if scope else ""
                errors.append(f"{p.name} owns {ref.kind} {ref}, which does not exist{where}")
                continue
            for each in refs:
                other = wanted.setdefault(each, p.name)
                if other != p.name:
                    errors.append(f"{each.kind} {each} is declared owned by both {other} and {p.name}: an object "
                                  f"has one owner")
    return wanted


def plan_owners(target: Target, principals: list[Principal], db: DatabaseState, scope: str) -> Ownership:
    """The transfers of one database, and that database as it is after them and after the REASSIGN OWNED of
    the roles that retire (so that `schema.*` sets default privileges for a schema's next owner in this apply)."""
    heirs = {p.name: p.retire.reassign_owned_to for p in principals
             if p.state == "absent" and p.retire.reassign_owned_to}
    if not heirs and not any(p.owns for p in principals):
        return Ownership(db)
    result = Ownership(db)
    owners = current_owners(db)
    wanted = desired_owners(principals, scope, owners, result.errors)
    moving = {ref: (owners[ref], owner) for ref, owner in sorted(wanted.items()) if owners[ref] != owner}
    for ref, (was, owner) in moving.items():
        result.errors += _admin_problems(db, ref, was, owner)
        result.changes.append(c.AlterOwner(action=c.CHANGE, target=target.name, principal=owner, kind=ref.kind,
                                           obj=ref, owner=owner, was=was))
    after = {ref: heirs[owner] for ref, owner in owners.items() if owner in heirs}
    after.update({ref: owner for ref, (_, owner) in moving.items()})
    result.db = after_transfers(db, after)
    return result


def _admin_problems(db: DatabaseState, ref: ObjectRef, was: str, owner: str) -> list[str]:
    """What keeps the admin from transferring `ref` (a superuser may always): it must hold the old owner's
    privileges and be able to SET ROLE to the new owner, which needs CREATE where the object lives."""
    admin = db.roles.get(db.admin_user)
    if admin is None or "SUPERUSER" in admin.attributes:
        return []
    problems = []
    old, new = db.roles.get(was), db.roles.get(owner)
    if old is not None and not old.admin_holds:
        problems.append(f"{ref.kind} {ref} belongs to {was}, whose privileges the admin {db.admin_user} does not "
                        f"hold, so it cannot give it away (GRANT {was} TO {db.admin_user})")
    if new is not None and not new.admin_can_become:
        problems.append(f"the admin {db.admin_user} cannot SET ROLE {owner}, so it cannot make {owner} the owner of "
                        f"{ref.kind} {ref} (GRANT {owner} TO {db.admin_user})")
    where = (ObjectRef(ObjectKind.DATABASE, "", db.name) if ref.kind == ObjectKind.SCHEMA
             else ObjectRef(ObjectKind.SCHEMA, "", ref.schema))
    if new is not None and not _holds_create(db, owner, where):
        problems.append(f"{owner} must hold CREATE on {where.kind} {where} to own {ref.kind} {ref} (the server "
                        f"requires it when the admin is no superuser): grant it to {owner}, apply, then declare "
                        f"the ownership")
    return problems


def _holds_create(db: DatabaseState, role: str, where: ObjectRef) -> bool:
    """Whether `role` (or PUBLIC, or a role it is a member of) holds CREATE on `where`, or owns it, now."""
    roles = {role, "PUBLIC"}
    todo = [role]
    while todo:
        state = db.roles.get(todo.pop())
        for parent in state.member_of - roles if state else ():
            roles.add(parent)
            todo.append(parent)
    if where.kind == ObjectKind.SCHEMA and db.schema_owners.get(where.name) in roles:
        return True
    return any(group.owner in roles or any("CREATE" in group.grants.get(r, ()) for r in roles)
               for group in db.acl_groups if where in group.objects)


def after_transfers(db: DatabaseState, moving: dict[ObjectRef, str]) -> DatabaseState:
    """The state once each object of `moving` belongs to its new owner: the new owner's own grants on it merge
    into its ownership (they are no longer listed), grants it made become the owner's; the old owner, being
    the owner no more, holds nothing on it."""
    if not moving:
        return db
    groups: list[AclGroup] = []
    for group in db.acl_groups:
        touched = group.objects & moving.keys()
        if not touched:
            groups.append(group)
            continue
        rest = group.objects - touched
        if rest:
            groups.append(replace(group, objects=frozenset(rest)))
        by_owner: dict[str, set[ObjectRef]] = defaultdict(set)
        for ref in touched:
            by_owner[moving[ref]].add(ref)
        groups += [_owned_by(group, owner, frozenset(refs)) for owner, refs in sorted(by_owner.items())]
    schema_owners = dict(db.schema_owners)
    schema_owners.update({ref.name: owner for ref, owner in moving.items() if ref.kind == ObjectKind.SCHEMA})
    return replace(db, acl_groups=groups, schema_owners=schema_owners)


def _owned_by(group: AclGroup, owner: str, objects: frozenset[ObjectRef]) -> AclGroup:
    grants = {g: p for g, p in group.grants.items() if g != owner}
    foreign: dict[str, dict[str, frozenset[str]]] = {}
    for grantee, by_grantor in group.foreign.items():
        if grantee == owner:
            continue
        for grantor, privileges in by_grantor.items():
            if grantor == owner:  # granted by the owner now: an own grant
                grants[grantee] = grants.get(grantee, frozenset()) | privileges
            else:
                foreign.setdefault(grantee, {})[grantor] = privileges
    options = {g: p for g, p in group.grant_options.items() if g != owner}
    return AclGroup(group.kind, group.schema, objects, grants, options, foreign, owner)


def owned_by_accounts(db: DatabaseState, accounts: dict[str, str], place: str) -> list[str]:
    """A warning for each kind of object in each schema that a managed login account owns (`accounts`: its
    identity on the server -> its name in the manifest), naming the objects and the fix."""
    found: dict[tuple[str, ObjectKind, str], list[str]] = defaultdict(list)
    for schema, owner in db.schema_owners.items():
        if owner in accounts:
            found[(owner, ObjectKind.SCHEMA, "")].append(schema)
    for group in db.acl_groups:
        if group.owner in accounts and group.kind not in (ObjectKind.COLUMN, ObjectKind.SCHEMA):
            found[(group.owner, group.kind, group.schema)] += [str(ref) for ref in group.objects]
    warnings = []
    for (owner, kind, schema), objects in sorted(found.items()):
        objects.sort()
        shown = ", ".join(objects[:SHOWN]) + (f" and {len(objects) - SHOWN} more" if len(objects) > SHOWN else "")
        words = spec(kind).key or f"{kind.value}s"
        example = f"{schema}.*" if schema else objects[0]
        fix = (f"declare them under `owns:` of a group role (e.g. owns: {{{words}: [{example}]}})"
               if spec(kind).ownable else f"ALTER {kind.value.upper()} ... OWNER TO a group role")
        where = f" in schema {schema}" if spec(kind).container == Container.SCHEMA else ""
        what = (f"{kind.value} {objects[0]} on {place}" if len(objects) == 1
                else f"{len(objects)} {words}{where} on {place} ({shown})")
        warnings.append(f"login account {accounts[owner]} owns {what}: an owner holds every privilege on what it "
                        f"owns, whatever the file says; {fix}")
    return warnings
