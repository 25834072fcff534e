"""Rules about `owns:` (SPEC 9): an engine whose objects have owners, names that parse, databases the target
manages, no system schema, and no object declared owned by two roles."""

from __future__ import annotations

from typing import Any

from provisioner.core import names
from provisioner.core.engine_facts import EngineFacts
from provisioner.core.kinds import owns_keys
from provisioner.core.model import Grant
from provisioner.errors import Problem
from provisioner.manifest.build import parse_owns
from provisioner.manifest.documents import Item
from provisioner.manifest.validation.rules.grants import system_schema_problems
from provisioner.manifest.validation.rules.registry import Known, rule
from provisioner.manifest.validation.rules.targets import managed_databases
from provisioner.manifest.validation.words import item_label, suggest


def _entries(item: Item) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    value = item.data.get("owns")
    path = (*item.path, "owns")
    if isinstance(value, list):
        return [((*path, i), entry) for i, entry in enumerate(value) if isinstance(entry, dict)]
    return [(path, value)] if isinstance(value, dict) else []


@rule("entry", "entry-owns")
def owns(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    entries = _entries(item)
    if not entries:
        return []
    if not engine.object_owners:
        return [Problem(item.doc.where((*item.path, "owns"), key=True),
                        f"{item_label(item)}: `owns` declares PostgreSQL object owners; {engine.label} objects have "
                        f"none", "remove `owns`")]
    problems: list[Problem] = []
    databases = managed_databases(known.target_of(item))
    for path, entry in entries:
        database = entry.get("database")
        if database is not None and database not in databases:
            problems.append(Problem(item.doc.where((*path, "database")),
                                    f"{item_label(item)}: database {database!r} is not managed by the target "
                                    f"({', '.join(databases) or 'it names no database'})",
                                    f"{suggest(database, databases)}add it to the target's `databases:`"))
        for key in (k for k in owns_keys() if k in entry):
            try:
                owned = parse_owns({key: entry[key]}, None, None)
            except names.NameError_ as exc:
                problems.append(Problem(item.doc.where((*path, key)), str(exc),
                                        "write schema.name, schema.* or schema.function(argument types)"))
                continue
            grants = [Grant(o.obj, frozenset()) for o in owned]
            problems += system_schema_problems(item, path, key, engine, grants)
    return problems


@rule("manifest", "owned-by-one-role")
def owned_once(known: Known) -> list[Problem]:
    """An object has one owner: two roles of a target declaring the same object would hand it back and forth."""
    seen: dict[tuple[str, str, object], str] = {}
    problems: list[Problem] = []
    for item in known.entries:
        for path, entry in _entries(item):
            try:
                owned = parse_owns(entry, None, None)
            except names.NameError_:
                continue  # reported by entry-owns
            for o in owned:
                key = (item.data["target"], o.database or "", o.obj)
                first = seen.setdefault(key, item.data["name"])
                if first != item.data["name"]:
                    problems.append(Problem(item.doc.where(path), f"{item_label(item)} owns {o.obj.kind} {o.obj}, "
                                            f"which role {first!r} owns too", "an object has one owner: keep it "
                                            "under one role's `owns`"))
    return problems
