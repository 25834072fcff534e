"""`import`: the grant entries of one role in one database, in the manifest's terms. Privileges on every object of
a schema, together with the matching default privileges of every creator there, fold into `schema.*`; CONNECT and
schema USAGE that other grants imply are left implicit; names are quoted only where the dotted syntax needs it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from provisioner.core.diff import AclIndex
from provisioner.core.diff.creators import holders_of_create
from provisioner.core.kinds import Container, ObjectKind, order, spec, with_default_privileges
from provisioner.core.model import DatabaseState, ObjectRef, Target, Traits
from provisioner.core.names import split_signature

Key = tuple[ObjectKind, str]  # (kind, schema)
Entry = tuple[ObjectKind, tuple[str, ...], str]  # (kind, privileges, object text)


@dataclass(frozen=True)
class Place:
    """One database of a target, as `import` reads it."""

    target: Target
    db: DatabaseState
    index: AclIndex
    traits: Traits


def grant_entries(grantee: str, place: Place, connect_implied: set[str | None] | None) -> list[dict[str, Any]]:
    """The grant entries of `grantee` in one database; CONNECT on `connect_implied` databases is left implied."""
    held = _held(grantee, place.index)
    defaults = covered_by_defaults(grantee, place)
    entries: list[Entry] = []
    columns: dict[tuple[str, ...], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    implied_schemas: set[str] = set()
    for (kind, schema), objects in _by_key(held).items():
        if spec(kind).implies_usage:
            implied_schemas.add(schema)
        if kind == ObjectKind.COLUMN:
            for ref, column_privs in sorted(objects.items()):
                columns[tuple(sorted(column_privs))][qualified(ref.schema, ref.name)].append(ref.column)
            continue
        entries += _entries_of(place, (kind, schema), objects, defaults.get((kind, schema), set()))
    if place.traits.implied_grants:
        entries = [e for e in entries if not _implied(e, implied_schemas, connect_implied or set())]
    return _grouped(entries) + [{"privileges": list(column_set), "columns": {t: sorted(c) for t, c in
                                                                             sorted(tables.items())}}
                                for column_set, tables in sorted(columns.items())]


def _held(grantee: str, index: AclIndex) -> dict[ObjectRef, set[str]]:
    held: dict[ObjectRef, set[str]] = defaultdict(set)
    for key in index.holders.get(grantee, set()):
        if spec(key[0]).key is None:
            continue  # never declarable (MySQL's global privileges): a note says so
        for group in index.groups.get(key, []):
            privs = group.grants.get(grantee)
            if privs:
                for ref in group.objects:
                    held[ref] |= privs
    return held


def _by_key(held: dict[ObjectRef, set[str]]) -> dict[Key, dict[ObjectRef, set[str]]]:
    by_key: dict[Key, dict[ObjectRef, set[str]]] = defaultdict(dict)
    for ref, privs in held.items():
        by_key[(ref.kind, ref.schema)][ref] = privs
    return by_key


def _entries_of(place: Place, key: Key, objects: dict[ObjectRef, set[str]], defaults: set[str]) -> list[Entry]:
    """The entries of one (kind, schema): `schema.*` for what every object and every creator's default
    privileges give, each object for the rest."""
    kind, schema = key
    folded: set[str] = set()
    if place.traits.schema_wildcards and kind in with_default_privileges():
        everything = {ref for group in place.index.groups.get(key, []) for ref in group.objects}
        for privilege in sorted({p for privs in objects.values() for p in privs}):
            if privilege in defaults and all(privilege in objects.get(ref, ()) for ref in everything):
                folded.add(privilege)
    entries: list[Entry] = [(kind, tuple(sorted(folded)), f"{quote(schema)}.*")] if folded else []
    for ref, privs in sorted(objects.items()):
        rest = tuple(sorted(privs - folded))
        if rest:
            entries.append((kind, rest, object_text(ref, place.traits)))
    return entries


def _grouped(entries: list[Entry]) -> list[dict[str, Any]]:
    grouped: dict[tuple[ObjectKind, tuple[str, ...]], list[str]] = defaultdict(list)
    for kind, privs, text in entries:
        grouped[(kind, privs)].append(text)
    return [{"privileges": list(privs), spec(kind).key or kind.value: texts}
            for (kind, privs), texts in sorted(grouped.items(), key=lambda i: (order(i[0][0]), i[0][1]))]


def covered_by_defaults(grantee: str, place: Place) -> dict[Key, set[str]]:
    """(kind, schema) -> the privileges `grantee` receives on the future objects of every creator of the schema
    (the schema owner and the holders of CREATE, as the diff counts them): what `schema.*` may stand for."""
    db, target = place.db, place.target
    creators = holders_of_create(place.index.groups.get((ObjectKind.SCHEMA, ""), []))
    by_creator: dict[tuple[ObjectKind, str, str], set[str]] = defaultdict(set)
    for acl in db.default_acls:
        if grantee in acl.grants:
            by_creator[(acl.kind, acl.schema, acl.owner)] |= acl.grants[grantee]
    defaults: dict[Key, set[str]] = {}
    for kind, schema, _ in by_creator:
        owner = db.schema_owners.get(schema)
        everyone = set(target.default_privileges_for) or ({owner} if owner else set()) | creators.get(schema, set())
        everyone -= {"PUBLIC", grantee}
        shared = [by_creator.get((kind, schema, creator), set()) for creator in sorted(everyone)]
        defaults[(kind, schema)] = set.intersection(*shared) if shared else set()
    return defaults


def _implied(entry: Entry, schemas: set[str], databases: set[str | None]) -> bool:
    kind, privs, text = entry
    if kind == ObjectKind.SCHEMA and privs == ("USAGE",) and text in {quote(s) for s in schemas}:
        return True
    return kind == ObjectKind.DATABASE and privs == ("CONNECT",) and text in {quote(d) for d in databases if d}


def object_text(ref: ObjectRef, traits: Traits) -> str:
    if spec(ref.kind).container != Container.SCHEMA:
        return quote(ref.name)
    if ref.kind == ObjectKind.FUNCTION and traits.schema_wildcards:
        name, args = split_signature(ref.name)
        return f"{quote(ref.schema)}.{quote(name)}({args})"
    if ref.is_wildcard:
        return f"{quote(ref.schema)}.*"
    return qualified(ref.schema, ref.name)


def qualified(schema: str, name: str) -> str:
    return f"{quote(schema)}.{quote(name)}"


def quote(part: str) -> str:
    """Double-quote a name part only when the manifest's dotted syntax needs it."""
    if part and all(ch.isalnum() or ch in "_$%\\\\" for ch in part):
        return part
    return '"' + part.replace('"', '""') + '"'
