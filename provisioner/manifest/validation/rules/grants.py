"""Rules about grants: the profile an entry uses, the privileges of each kind on the target's engine, object names
that parse, `database:` on a grant, and no grant reaching system schemas or the tool's bookkeeping (SPEC 8)."""

from __future__ import annotations

from typing import Any

from provisioner.core import conventions, names, privileges
from provisioner.core.engine_facts import EngineFacts
from provisioner.core.kinds import Container, Naming, ObjectKind, keys_of, kind_of_key, spec
from provisioner.core.model import Grant
from provisioner.errors import Problem
from provisioner.manifest.build import object_key, parse_grant
from provisioner.manifest.documents import Item
from provisioner.manifest.validation.rules.registry import Known, rule
from provisioner.manifest.validation.rules.targets import grant_database_problems
from provisioner.manifest.validation.words import item_label, suggest


@rule("entry", "entry-profile")
def profile(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    name = item.data.get("profile")
    if not name or name in known.profiles:
        return []
    return [Problem(item.doc.where((*item.path, "profile")), f"{item_label(item)} uses the unknown profile {name!r}",
                    f"{suggest(name, set(known.profiles))}declared profiles: "
                    f"{', '.join(sorted(known.profiles)) or 'none'}")]


@rule("entry", "entry-grants")
def grants(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    problems: list[Problem] = []
    for i, entry in enumerate(item.data.get("grants") or []):
        if entry is not None:  # None: refused by the schema, reported there
            problems += grant_problems(item, (*item.path, "grants", i), entry, engine, known.target_of(item))
    return problems


def grant_problems(item: Item, path: tuple[Any, ...], entry: dict[str, Any], engine: EngineFacts,
                   target: dict[str, Any]) -> list[Problem]:
    doc = item.doc
    problems = grant_database_problems(doc, path, entry, target, engine, item_label(item))
    key = object_key(entry)
    kind = kind_of_key(key)
    if not spec(kind).on(engine.family):
        return [*problems, Problem(doc.where((*path, key), key=True), f"{engine.name} has no {key}: they cannot be "
                                   f"granted", f"use one of: {', '.join(keys_of(engine.family))}")]
    problems += _privilege_problems(doc, path, key, kind, entry, engine)
    try:
        # expiry is checked by its own rule (entry-expiry): the objects are what is parsed here
        parsed = parse_grant(engine.name, {k: v for k, v in entry.items() if k != "expires"}, None)
    except names.NameError_ as exc:
        problems.append(Problem(doc.where((*path, key)), str(exc), name_hint(engine, kind)))
    else:
        problems += system_schema_problems(item, path, key, engine, parsed)
    if engine.basic_plane_only and any(ord(ch) > 0xFFFF for ch in str(entry[key])):
        problems.append(Problem(doc.where((*path, key)), f"{key}: MySQL and MariaDB identifiers have no "
                                f"characters beyond U+FFFF (utf8mb3)", "rename the object"))
    return problems


@rule("entry", "grant-except")
def exceptions(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    """`except:` only on a PostgreSQL `schema.*` grant of a kind it reaches (tables, sequences, functions, types),
    naming objects of that schema."""
    problems: list[Problem] = []
    for i, entry in enumerate(item.data.get("grants") or []):
        if not isinstance(entry, dict) or not entry.get("except"):
            continue
        where = item.doc.where((*item.path, "grants", i, "except"))
        kind = kind_of_key(object_key(entry))
        objects = entry[object_key(entry)] if isinstance(entry[object_key(entry)], list) else []
        schemas = {str(o)[:-2] for o in objects if str(o).endswith(".*")}
        if not engine.default_privileges or not spec(kind).wildcard or not schemas:
            problems.append(Problem(where, f"{item_label(item)}: `except` applies to a PostgreSQL schema.* grant of "
                                           f"tables, sequences, functions or types", "remove `except`, or grant on "
                                                                                     "schema.*"))
            continue
        for pattern in entry["except"]:
            try:
                schema, _ = names.qualified(str(pattern), "object")
            except names.NameError_ as exc:
                problems.append(Problem(where, str(exc), "write schema.name or schema.prefix_*"))
                continue
            if schema not in {names.qualified(s + ".x", "object")[0] for s in schemas}:
                problems.append(Problem(where, f"{item_label(item)}: except {pattern!r} is not in the schema the "
                                               f"grant names ({', '.join(sorted(schemas))})",
                                        "name objects of that schema: schema.name or schema.prefix_*"))
    return problems


def _privilege_problems(doc: Any, path: tuple[Any, ...], key: str, kind: ObjectKind, entry: dict[str, Any],
                        engine: EngineFacts) -> list[Problem]:
    allowed = spec(kind).on(engine.family)
    objects = entry[key] if isinstance(entry[key], list) else []
    if engine.database_patterns and (kind == ObjectKind.DATABASE or any(str(o).endswith(".*") for o in objects)):
        allowed = spec(ObjectKind.DATABASE).on(engine.family)  # `db.*` is a database-level grant
    problems = []
    for j, raw in enumerate(entry["privileges"]):
        name = privileges.normalize(raw)
        if name != "ALL" and name not in allowed:
            known_elsewhere = name in privileges.all_known(engine.family)
            problems.append(Problem(
                doc.where((*path, "privileges", j)),
                f"privilege {raw!r} does not apply to {key}" if known_elsewhere else f"unknown privilege {raw!r}",
                f"{'' if known_elsewhere else suggest(name, allowed)}{key} take: {', '.join(sorted(allowed))} "
                f"(or ALL)"))
    return problems


def system_schema_problems(item: Item, path: tuple[Any, ...], key: str, engine: EngineFacts, parsed: list[Grant]
                           ) -> list[Problem]:
    """SPEC 8: no grant names or reaches the server's own schemas or the tool's bookkeeping (MySQL/MariaDB: a
    wildcard such as `pro%.*` or `%.*` reaches the marker database, where a row makes apply drop an account)."""
    for grant in parsed:
        ref = grant.obj
        if spec(ref.kind).container == Container.SCHEMA:
            container = ref.schema
        elif ref.kind == ObjectKind.SCHEMA:
            container = ref.name
        else:
            continue  # a database, language, foreign server... is no schema
        pattern = ref.is_wildcard and engine.database_patterns
        reached = engine.reaches_system_schema(container, pattern, (conventions.MARKER_DATABASE,))
        if reached:
            what = "the provisioner's bookkeeping" if reached == conventions.MARKER_DATABASE else "a system schema"
            return [Problem(
                item.doc.where((*path, key)),
                f"{item_label(item)}: {key} {container!r}" + (f" (a pattern) reaches {reached!r}" if pattern
                                                              and container != reached else "") + f", {what}",
                "grant on application schemas only; a pattern must not match mysql, sys, performance_schema, "
                "information_schema or provisioner_meta (escape `_` as `\\_`)")]
    return []


def name_hint(engine: EngineFacts, kind: ObjectKind) -> str:
    container = "schema" if engine.schemas else "database"
    if spec(kind).written(engine.family) == Naming.SIGNATURE:
        return f"write {container}.name(argument types), e.g. public.report(integer), or {container}.*"
    return f"write {container}.name, or {container}.* for every object; quote odd names with double quotes"
