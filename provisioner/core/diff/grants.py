"""Privilege changes: the grants and revokes that make one role hold exactly its desired access, and the
default privileges that carry `schema.*` to future objects. Works on ACL groups (objects sharing one access
list), so the cost follows the number of distinct ACLs, not accounts x tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

from provisioner.core import changes as c
from provisioner.core.diff.access import DesiredAccess
from provisioner.core.diff.context import DiffContext, Grantee
from provisioner.core.diff.creators import DEFAULTABLE
from provisioner.core.kinds import ObjectKind, order, spec
from provisioner.core.model import AclGroup, ObjectRef

EMPTY: frozenset[str] = frozenset()
Key = tuple[str, str]  # (kind, schema)


@dataclass
class _Gaps:
    """For one (kind, schema): objects lacking each privilege (with whether it is implied), and excess ones."""

    lack: dict[tuple[str, bool], list[frozenset[ObjectRef]]] = field(default_factory=lambda: defaultdict(list))
    excess: dict[str, list[frozenset[ObjectRef]]] = field(default_factory=lambda: defaultdict(list))
    # Privileges that stay but are held WITH GRANT OPTION: the option goes (a plain revoke takes it with it).
    options: dict[str, list[frozenset[ObjectRef]]] = field(default_factory=lambda: defaultdict(list))
    # Grants made by another role (grantor, privilege): all go, revoked in the grantor's name; what the file
    # declares is granted by the admin instead.
    foreign: dict[tuple[str, str], list[frozenset[ObjectRef]]] = field(default_factory=lambda: defaultdict(list))

    def special(self, ref: ObjectRef, want_rest: frozenset[str], access: DesiredAccess, have: frozenset[str],
                grantable: frozenset[str] = frozenset()) -> None:
        declared = (want_rest - access.exempt.get(ref, EMPTY)) | access.explicit.get(ref, set())
        implied = access.implied.get(ref, set())
        kept = declared | implied | access.tolerated.get(ref, set())
        for p in (declared | implied) - have:
            self.lack[(p, p not in declared)].append(frozenset((ref,)))
        for p in have - kept:
            self.excess[p].append(frozenset((ref,)))
        for p in grantable & kept:
            self.options[p].append(frozenset((ref,)))


def _union(collections: list[frozenset[ObjectRef]]) -> frozenset[ObjectRef]:
    if len(collections) == 1:
        return collections[0]
    return frozenset().union(*collections)


def privilege_changes(ctx: DiffContext, who: Grantee, access: DesiredAccess) -> None:
    """Grants and revokes that make `who` hold exactly `access`; errors for missing objects."""
    specials_by_key: dict[Key, list[ObjectRef]] = defaultdict(list)
    exempted(ctx, access)
    for ref in set(access.explicit) | set(access.implied) | set(access.tolerated) | set(access.exempt):
        specials_by_key[(ref.kind, ref.schema)].append(ref)
    keys = access.keys() | ctx.index.holders.get(who.identity, set())
    found: list[c.AnyChange] = []
    for key in sorted(keys, key=lambda k: (order(k[0]), k[1])):
        want_rest = frozenset(access.wildcard.get(key, EMPTY))
        gaps = _gaps(ctx, who, key, specials_by_key.get(key, []), want_rest, access)
        # What some object is excepted from is granted by name: ALL ... IN SCHEMA would reach that object too
        in_schema = want_rest - frozenset().union(*(access.exempt[r] for r in specials_by_key.get(key, [])
                                                     if r in access.exempt))
        total = ctx.index.sizes.get(key, 0) if ctx.traits.schema_wildcards else 0
        lack = {k: _union(v) for k, v in gaps.lack.items()}
        excess = {(p, False): _union(v) for p, v in gaps.excess.items()}
        options = {(p, False): _union(v) for p, v in gaps.options.items()}
        found += _bucketed(ctx, who, key, total, lack, in_schema, c.GrantPrivileges)
        found += _bucketed(ctx, who, key, total, excess, None, c.RevokePrivileges)
        found += _bucketed(ctx, who, key, total, options, None, c.RevokeGrantOption)
        found += _foreign_revokes(ctx, who, key, gaps)
    ctx.result.changes += around_cascades(found, access)


def exempted(ctx: DiffContext, access: DesiredAccess) -> None:
    """The objects an `except:` pattern matches, with the privileges of the wildcard they do not get: those of
    the `schema.*` grants that except them and that no other `schema.*` grant gives them anyway."""
    for key, grants in access.exceptions.items():
        if not any(patterns for _, patterns in grants):
            continue
        for group in ctx.index.groups.get(key, []):
            for ref in group.objects:
                given = frozenset().union(*(privs for privs, patterns in grants if not _matches(ref.name, patterns)))
                missing = access.wildcard[key] - given
                if missing:
                    access.exempt[ref] = frozenset(missing)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def _foreign_revokes(ctx: DiffContext, who: Grantee, key: Key, gaps: _Gaps) -> list[c.AnyChange]:
    """Revokes, in each grantor's name, of what other roles granted `who` (objects named: a grantor's revoke
    on ALL ... IN SCHEMA would warn for every object it granted nothing on)."""
    by_grantor: dict[str, dict[tuple[str, bool], list[frozenset[ObjectRef]]]] = defaultdict(lambda: defaultdict(list))
    for (grantor, privilege), objects in gaps.foreign.items():
        by_grantor[grantor][(privilege, False)] += objects
    found: list[c.AnyChange] = []
    for grantor, held in sorted(by_grantor.items()):
        role = ctx.db.roles.get(grantor)
        if role is not None and not role.admin_can_become:
            ctx.result.errors.append(
                f"{who.principal}: {grantor} granted it {', '.join(sorted({p for p, _ in held}))} on {key[0]} "
                f"objects in {key[1] or 'the database'}; only {grantor} can revoke that, and the admin "
                f"{ctx.db.admin_user} cannot SET ROLE {grantor} (GRANT {grantor} TO {ctx.db.admin_user}, or "
                f"revoke it by hand)")
            continue
        merged = {k: _union(v) for k, v in held.items()}
        found += _bucketed(ctx, who, key, 0, merged, None, c.RevokePrivileges, grantor=grantor)
    return found


Cell = tuple[str, str, str]  # (schema, table, privilege)


def around_cascades(found: list[c.AnyChange], access: DesiredAccess) -> list[c.AnyChange]:
    """Both servers cascade a table-level revoke to the privileges of the same name on the table's columns. So a
    column revoke it covers is left out (MariaDB would fail on it: the grant is gone), and a declared column
    privilege it would take is granted after it (RestoreColumnPrivileges) instead of before."""
    revoked = {(ref.schema, ref.name, p) for ch in found
               if isinstance(ch, c.RevokePrivileges) and ch.kind == ObjectKind.TABLE and not ch.grantor
               for ref in ch.objects if not ref.is_wildcard for p in ch.privileges}
    if not revoked:
        return found
    kept = [ch for ch in (_without_cascaded(ch, revoked) for ch in found) if ch is not None]
    template = next(ch for ch in found if isinstance(ch, c.RevokePrivileges))
    return kept + _restorations(access, revoked, template)


def _without_cascaded(ch: c.AnyChange, revoked: set[Cell]) -> c.AnyChange | None:
    """A column change less what a table-level revoke takes anyway (None when nothing is left)."""
    own_column_change = isinstance(ch, (c.GrantPrivileges, c.RevokePrivileges)) and ch.kind == ObjectKind.COLUMN
    if not own_column_change or (isinstance(ch, c.RevokePrivileges) and ch.grantor):
        return ch
    assert isinstance(ch, (c.GrantPrivileges, c.RevokePrivileges))
    table = (ch.objects[0].schema, ch.objects[0].name)
    left = tuple(p for p in ch.privileges if (*table, p) not in revoked)
    return replace(ch, privileges=left) if left else None


def _restorations(access: DesiredAccess, revoked: set[Cell], template: c.RevokePrivileges
                  ) -> list[c.AnyChange]:
    """The declared column privileges a table-level revoke takes, granted again after it, by table."""
    restore: dict[tuple[str, str], dict[str, set[ObjectRef]]] = defaultdict(lambda: defaultdict(set))
    for ref, privileges in access.explicit.items():
        for p in privileges:
            if ref.kind == ObjectKind.COLUMN and (ref.schema, ref.name, p) in revoked:
                restore[(ref.schema, ref.name)][p].add(ref)
    found: list[c.AnyChange] = []
    for (schema, _), by_privilege in sorted(restore.items()):
        by_columns: dict[tuple[ObjectRef, ...], list[str]] = defaultdict(list)
        for p, refs in by_privilege.items():
            by_columns[tuple(sorted(refs))].append(p)
        found += [c.RestoreColumnPrivileges(
            action=c.ADD, target=template.target, principal=template.principal, grantee=template.grantee,
            host=template.host, kind=ObjectKind.COLUMN, schema=schema, objects=columns,
            privileges=tuple(sorted(privs))) for columns, privs in sorted(by_columns.items())]
    return found


def _gaps(ctx: DiffContext, who: Grantee, key: Key, specials: list[ObjectRef], want_rest: frozenset[str],
          access: DesiredAccess) -> _Gaps:
    kind, _ = key
    gaps = _Gaps()
    located: set[ObjectRef] = set()
    # An empty schema is fine for `schema.*`: there is nothing to grant now, default privileges cover the
    # future (a missing schema is reported by the default privileges and the implied USAGE).
    # Without a wildcard, a group where the role holds nothing and that holds no named object changes nothing.
    groups = ctx.index.groups.get(key, []) if want_rest else ctx.index.concerning(who.identity, key, specials)
    for group in groups:
        here = [ref for ref in specials if ref in group.objects]
        located.update(here)
        _group_gaps(ctx, who, group, here, want_rest, access, gaps)
    for ref in specials:
        if ref in located:
            continue
        if kind == ObjectKind.COLUMN or ref.is_wildcard or (spec(kind).dotted_placeholders and "." in ref.name):
            # Columns are not all inspected; a database-level grant (MySQL db.*) needs no existing object; nor
            # does a custom parameter (`extension.name`).
            gaps.special(ref, want_rest, access, EMPTY)
        else:
            ctx.result.errors.append(f"{who.principal}: {kind} {ref} does not exist on {ctx.place}")
    return gaps


def _group_gaps(ctx: DiffContext, who: Grantee, group: AclGroup, here: list[ObjectRef], want_rest: frozenset[str],
                access: DesiredAccess, gaps: _Gaps) -> None:
    """What `who` lacks and holds too much of in one ACL group: on its named objects (`here`) as declared, on the
    rest as the schema wildcard says."""
    have = group.grants.get(who.identity, EMPTY)
    grantable = group.grant_options.get(who.identity, EMPTY)
    for grantor, privileges in group.foreign.get(who.identity, {}).items():
        for p in privileges:
            gaps.foreign[(grantor, p)].append(group.objects)
    rest = group.objects.difference(here) if here else group.objects
    # Its own objects (say, tables it created in a schema it may CREATE in): an owner holds everything.
    if rest and group.owner != who.identity:
        for p in want_rest - have:
            gaps.lack[(p, False)].append(rest)
        for p in have - want_rest:
            gaps.excess[p].append(rest)
        for p in grantable & want_rest:
            gaps.options[p].append(rest)
    for ref in here:
        if ref in ctx.db.ungrantable:
            ctx.result.errors.append(f"{who.principal}: {group.kind} {ref} {ctx.db.ungrantable[ref]} ({ctx.place})")
        elif group.owner != who.identity:  # an owner holds every privilege on what it owns
            gaps.special(ref, want_rest, access, have, grantable)


PrivilegeKind = type[c.GrantPrivileges] | type[c.RevokePrivileges] | type[c.RevokeGrantOption]


def _bucketed(ctx: DiffContext, who: Grantee, key: Key, total: int,
              by_privilege: dict[tuple[str, bool], frozenset[ObjectRef]], wildcard: frozenset[str] | None,
              make: PrivilegeKind, **extra: str) -> list[c.AnyChange]:
    """One statement per distinct object set: privileges that apply to the same objects travel together.

    Grants of `schema.*` privileges use `ALL ... IN SCHEMA` (granting a privilege already held changes nothing,
    and one statement beats a list of thousands); revokes use it when they cover every object. Privileges of
    explicitly named objects are granted by name: they must not reach objects created after the plan.
    """
    kind, schema = key
    buckets: dict[tuple[frozenset[ObjectRef], bool], list[str]] = defaultdict(list)
    for (privilege, implied), objects in by_privilege.items():
        buckets[(objects, implied)].append(privilege)
    result: list[c.GrantPrivileges | c.RevokePrivileges | c.RevokeGrantOption] = []
    for (objects, implied), privs in buckets.items():
        ordered = ctx.index.in_order(objects)
        all_in_schema = spec(kind).in_schema_keyword and (
            bool(wildcard) and set(privs) <= wildcard if wildcard is not None
            else total > 1 and len(objects) == total)
        for group in (_by_table(ordered) if kind == ObjectKind.COLUMN else [ordered]):
            fields: dict[str, Any] = {"target": ctx.target.name, "principal": who.principal, "implied": implied,
                      "grantee": who.name, "kind": kind, "schema": schema, "objects": group,
                      "privileges": tuple(sorted(privs)), "host": who.host, "all_in_schema": all_in_schema,
                      **extra}
            result.append(make(action=c.ADD if make is c.GrantPrivileges else c.DESTROY, **fields))
    result.sort(key=lambda ch: (ch.implied is False, ch.objects, ch.privileges))
    return list[c.AnyChange](result)


def _by_table(columns: tuple[ObjectRef, ...]) -> list[tuple[ObjectRef, ...]]:
    tables: dict[tuple[str, str], list[ObjectRef]] = defaultdict(list)
    for ref in columns:
        tables[(ref.schema, ref.name)].append(ref)
    return [tuple(v) for _, v in sorted(tables.items())]


def default_privilege_changes(ctx: DiffContext, who: Grantee, access: DesiredAccess) -> None:
    """ALTER DEFAULT PRIVILEGES so that `schema.*` reaches objects the schema's creators make later."""
    db = ctx.db
    if not access.wildcard and not db.default_acls:
        return
    desired: dict[tuple[str, str, str], frozenset[str]] = {}
    for (kind, schema), privs in access.wildcard.items():
        if kind not in DEFAULTABLE:
            continue
        if schema not in db.schema_owners and not ctx.target.default_privileges_for:
            ctx.result.errors.append(f"{who.principal}: schema {schema!r} does not exist on {ctx.place}")
        # A role's own objects need no default privileges for itself: it owns them.
        for owner in ctx.creators.get(schema, ()):
            if owner != who.identity:
                desired[(owner, schema, kind)] = frozenset(privs)
    current: dict[tuple[str, str, str], frozenset[str]] = {}
    for entry in db.default_acls:
        if who.identity in entry.grants:
            current[(entry.owner, entry.schema, entry.kind)] = entry.grants[who.identity]
    for key in sorted(set(desired) | set(current)):
        owner, schema, kind = key
        want, have = desired.get(key, EMPTY), current.get(key, EMPTY)
        fields: dict[str, Any] = {"target": ctx.target.name, "principal": who.principal, "owner": owner,
                                  "schema": schema, "kind": kind, "grantee": who.identity}
        if want - have:
            ctx.result.changes.append(c.GrantDefaultPrivileges(action=c.ADD, privileges=tuple(sorted(want - have)),
                                                               **fields))
        if have - want:
            ctx.result.changes.append(c.RevokeDefaultPrivileges(action=c.DESTROY,
                                                                privileges=tuple(sorted(have - want)), **fields))
