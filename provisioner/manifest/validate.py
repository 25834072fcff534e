"""Validate: JSON Schema and semantic rules of SPEC section 2, each problem with file, line, column and a fix.

Touches nothing and needs no credentials. Runs over the parsed documents (not the built model) so that every
finding can point at the exact key or value in its file.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.core import conventions, names, privileges, schedule
from provisioner.core.engine_facts import facts, is_reserved, system_schema_reached
from provisioner.core.model import Grant, Principal, RotationSettings
from provisioner.errors import Problem
from provisioner.manifest.build import host_part, membership_role, object_key, parse_grant
from provisioner.manifest.documents import Document, Item, items, merged_defaults, merged_profiles, merged_targets

if TYPE_CHECKING:  # imported where a document is invalid: a valid one never needs it (50 ms of every run)
    import jsonschema

SCHEMA_FILE = "accounts.schema.json"

SECRET_PLACEHOLDERS = set(conventions.SECRET_PLACEHOLDERS)
SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


def schema_path() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "schemas" / SCHEMA_FILE, here / "schemas" / SCHEMA_FILE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{SCHEMA_FILE} not found next to the package")


@cache
def schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text(encoding="utf-8"))


def suggest(word: str, choices: list[str] | set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number",
            bool: "a boolean", type(None): "empty (null)"}.get(type(value), type(value).__name__)


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


SHOWN = 60  # characters of a refused value a message repeats (a 5 MB description is not echoed)


def shown(value: Any) -> str:
    """A value for a message: its repr, cut to SHOWN characters with the full length said."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text):,} characters)"


def _schema_problem(doc: Document, error: jsonschema.ValidationError) -> Problem:
    path = tuple(error.absolute_path)
    where = _dotted(path)[:200]
    if path and path[-1] == "url_env" and "://" in str(error.instance):
        return Problem(doc.where(path), f"{where} names an environment variable, not the URL itself",
                       "export the URL in a variable (export FILMS_ADMIN_URL='postgresql://...') and write "
                       "`url_env: FILMS_ADMIN_URL`; the URL, which holds a password, never goes in the file")
    hint = error.schema.get("x-hint", "") if isinstance(error.schema, dict) else ""
    validator = error.validator
    if validator == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extras = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
        key = extras[0] if extras else "?"
        return Problem(
            doc.where((*path, key), key=True),
            f"unknown key {shown(key)} in {where}",
            f"{suggest(str(key)[:200], allowed)}allowed keys: {', '.join(allowed)}",
        )
    if validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        key = missing[0] if missing else error.message
        return Problem(doc.where(path), f"{where} is missing the required key {key!r}", hint or f"add `{key}:`")
    if validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return Problem(doc.where(path), f"{where} must be {expected}, not {_type_name(error.instance)}", hint)
    if validator in ("enum", "const"):
        options = error.validator_value if validator == "enum" else [error.validator_value]
        return Problem(
            doc.where(path),
            f"{where}: {shown(error.instance)} is not allowed",
            hint or f"{suggest(str(error.instance)[:200], [str(o) for o in options])}use one of: "
            + ", ".join(repr(o) for o in options),
        )
    if validator in ("maxLength", "minLength"):
        length = len(error.instance) if isinstance(error.instance, str) else 0
        bound = "at most" if validator == "maxLength" else "at least"
        return Problem(doc.where(path), f"{where} is {length:,} characters long; it must be {bound} "
                                        f"{error.validator_value}", hint)
    if validator == "pattern":
        return Problem(doc.where(path), f"{where}: {shown(error.instance)} is not valid here", hint)
    if validator in ("minProperties", "maxProperties") and (
            "privileges" in (error.schema.get("properties") or {}) or error.schema.get("x-grant")):
        return Problem(doc.where(path), f"{where}: a grant must name exactly one kind of object", hint)
    if validator in ("minProperties", "maxProperties"):
        return Problem(doc.where(path), f"{where}: {error.message}", hint)
    if validator == "oneOf":
        return Problem(doc.where(path), f"{where}: {shown(error.instance)} is not valid here", hint)
    message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    return Problem(doc.where(path), f"{where}: {message}", hint)


@cache
def _compiled() -> Any:
    """The schema compiled by jsonschema-rs (Rust), or None where that wheel is missing (then jsonschema alone)."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.Draft202012Validator(schema())


def schema_errors(doc: Document) -> list[jsonschema.ValidationError]:
    if not isinstance(doc.data, dict):
        return []
    # A valid document (the common case) is confirmed by the compiled validator, ~20x faster; only an invalid
    # one is walked by jsonschema, whose errors (paths, oneOf context) the messages and positions are built from.
    fast = _compiled()
    if fast is not None and fast.is_valid(doc.data):
        return []
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    found = []
    for error in sorted(validator.iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path]):
        # Report the most specific error of a oneOf/anyOf group rather than the group.
        found.append(jsonschema.exceptions.best_match([error]) if error.context else error)
    return found


def schema_problems(doc: Document) -> list[Problem]:
    if not isinstance(doc.data, dict):
        return [Problem(doc.where(()), "a manifest must be a mapping with `version: 1` at the top",
                        "start the file with `version: 1`")]
    return [_schema_problem(doc, error) for error in schema_errors(doc)]


def literal_password_problems(doc: Document) -> list[Problem]:
    """A `password` key holding a value (not the password policy mapping) anywhere in the file."""
    problems: list[Problem] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                lowered = str(key).lower()
                if lowered in ("password", "passwd", "pwd") and not isinstance(child, dict):
                    problems.append(Problem(
                        doc.where((*path, key), key=True),
                        f"{_dotted((*path, key))}: a literal password is never allowed in the manifest",
                        "remove it: passwords are generated and kept in Secrets Manager; for the admin use "
                        "`admin: {secret: ...}` or `admin: {url_env: ENV_VAR}`",
                    ))
                elif lowered == "url" and isinstance(child, str) and "@" in child:
                    problems.append(Problem(
                        doc.where((*path, key), key=True),
                        f"{_dotted((*path, key))}: a connection URL may hold a password and is not allowed here",
                        "put the URL in an environment variable and write `url_env: THAT_VARIABLE`",
                    ))
                else:
                    walk(child, (*path, key))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, (*path, i))

    walk(doc.data, ())
    return problems


def validate_documents(documents: list[Document]) -> list[Problem]:
    """Every problem of every document in one pass: literal passwords, the schema, and the semantic rules on
    every part the schema accepted (a broken entry is reported once, by the schema, and left out of the rest)."""
    problems: list[Problem] = []
    checked: list[Document] = []
    broken_targets: set[str] = set()
    for doc in documents:
        found = literal_password_problems(doc)
        lines = {(f.location.file, f.location.line) for f in found if f.location}
        errors = schema_errors(doc)
        found += [_schema_problem(doc, e) for e in errors
                  if not _at_line(doc, e, lines)] if isinstance(doc.data, dict) else schema_problems(doc)
        problems.extend(found)
        if isinstance(doc.data, dict):
            clean, broken = _without(doc, [tuple(e.absolute_path) for e in errors])
            checked.append(clean)
            broken_targets |= broken
    return problems + semantic_problems(checked, broken_targets)


def _at_line(doc: Document, error: jsonschema.ValidationError, lines: set[tuple[str, int]]) -> bool:
    where = _schema_problem(doc, error).location
    return where is not None and (where.file, where.line) in lines


def _without(doc: Document, bad: list[tuple[Any, ...]]) -> tuple[Document, set[str]]:
    """A copy of the document without the parts the schema refused (list entries become None, keeping the
    indices that locations use), and the names of the targets left out."""
    data: dict[Any, Any] = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                            for k, v in doc.data.items()}
    broken_targets: set[str] = set()
    for path in bad:
        if not path:
            continue
        section = path[0]
        if len(path) == 1 or section not in ("roles", "accounts", "targets", "defaults", "profiles"):
            data.pop(section, None)
        elif section in ("roles", "accounts"):
            if isinstance(data.get(section), list):
                _drop_entry(data[section], path)
        elif section == "targets" and len(path) > 2 and path[2] != "engine":
            continue  # a target with a known engine still checks its accounts (e.g. a URL put in url_env)
        elif isinstance(data.get(section), dict):
            data[section].pop(path[1], None)
            if section == "targets":
                broken_targets.add(str(path[1]))
    return Document(doc.file, data, doc.values, doc.keys), broken_targets


def _drop_entry(entries: list[Any], path: tuple[Any, ...]) -> None:
    """Leave out a refused account/role (None), or only its refused grant when the rest of it is sound."""
    index = path[1]
    entry = entries[index] if isinstance(index, int) and index < len(entries) else None
    if isinstance(entry, dict) and len(path) > 3 and path[2] == "grants" and isinstance(entry.get("grants"), list):
        grants = list(entry["grants"])
        grants[path[3]] = None
        entries[index] = {**entry, "grants": grants}
    elif isinstance(index, int) and index < len(entries):
        entries[index] = None


def semantic_problems(documents: list[Document], broken_targets: set[str] | None = None) -> list[Problem]:
    """The rules of SPEC section 2 over schema-valid data; entries of a target the schema refused are skipped
    (that target's problem is reported already)."""
    problems: list[Problem] = []
    problems += _merge_problems(documents)
    targets = merged_targets(documents)
    profiles = merged_profiles(documents)
    all_items = [item for item in items(documents) if item.data["target"] not in (broken_targets or set())]
    roles_by_target: dict[str, set[str]] = {}
    accounts_by_target: dict[str, set[str]] = {}
    for item in all_items:
        by_target = accounts_by_target if item.login else roles_by_target
        by_target.setdefault(item.data["target"], set()).add(item.data["name"])

    for name, (doc, spec) in targets.items():
        problems += _target_problems(name, doc, spec)

    seen: dict[tuple[str, str, str], Item] = {}
    context = _Known(targets, profiles, roles_by_target, accounts_by_target, documents)
    for item in all_items:
        problems += _item_problems(item, context, seen)
    problems += _derived_name_problems(all_items, targets, merged_defaults(documents).get("rotation", {}))
    problems += _same_server_problems(all_items, targets)
    problems += _shared_secret_problems(all_items, targets, merged_defaults(documents))
    return problems


def _shared_secret_problems(all_items: list[Item], targets: dict[str, Any], defaults: dict[str, Any]
                            ) -> list[Problem]:
    """One secret, one account (SPEC 8): two accounts whose secret name templates render the same name would
    overwrite each other's password. Names that depend on a database the file does not give are left to `plan`,
    which refuses a secret tagged for another account."""
    first: dict[str, Item] = {}
    problems = []
    for item in all_items:
        data = item.data
        target = targets.get(data["target"])
        if target is None or not item.login or data.get("auth") == "iam":
            continue
        template = {**defaults.get("secret", {}), **(data.get("secret") or {})}.get("name", "{target}/{account}")
        spec = target[1]
        if "{database}" in template and not spec.get("database") and not spec.get("databases"):
            continue
        try:
            name = template.format(target=data["target"], account=data["name"], engine=spec["engine"],
                                   database=spec.get("database") or (spec.get("databases") or [""])[0])
        except (KeyError, IndexError, ValueError):
            continue  # reported by the template check
        other = first.setdefault(name, item)
        same_entry = (other.data["target"], other.data["name"], host_part(other.data)) == (
            data["target"], data["name"], host_part(data))
        if other is not item and not same_entry:  # an entry declared twice is reported as such
            problems.append(Problem(
                item.doc.where((*item.path, "name")),
                f"{item_label(item)} would share the secret {name!r} with {item_label(other)} of target "
                f"{other.data['target']!r} (at {other.location}): each would overwrite the other's password",
                "give one of them its own `secret: {name: ...}` (e.g. with its host part in the name)"))
    return problems


def _same_server_problems(all_items: list[Item], targets: dict[str, Any]) -> list[Problem]:
    """Roles are server-wide: one name under two targets with the same host and port is one role with two
    owners (the targets' databases may differ). `plan` also compares the servers' own identities."""
    first: dict[tuple[str, str, int, str, str], Item] = {}
    problems = []
    for item in all_items:
        target = targets.get(item.data["target"])
        if target is None or not target[1].get("host"):
            continue
        spec = target[1]
        engine = spec["engine"]
        host_part = item.data.get("host", "%") if engine != "postgres" else ""
        key = (facts(engine).family, str(spec["host"]).lower(), int(spec.get("port") or facts(engine).default_port),
               item.data["name"], host_part)
        other = first.setdefault(key, item)
        if other is not item and other.data["target"] != item.data["target"]:
            problems.append(Problem(
                item.doc.where((*item.path, "name")),
                f"{item_label(item)} is also declared under target {other.data['target']!r} (at {other.location}), "
                f"and both targets are {key[1]}:{key[2]}: roles belong to the server, not to a database",
                "declare it under one target of that server"))
    return problems


@dataclass(frozen=True)
class _Known:
    """What the checks of one entry look up: targets, profiles, the role and account names of each target."""

    targets: dict[str, Any]
    profiles: dict[str, Any]
    roles_by_target: dict[str, set[str]]
    accounts_by_target: dict[str, set[str]]
    documents: list[Document]


def _item_problems(item: Item, ctx: _Known, seen: dict[tuple[str, str, str], Item]) -> list[Problem]:
    """The problems of one account or role entry (`seen` collects entries, to find one declared twice)."""
    problems: list[Problem] = []
    targets, profiles = ctx.targets, ctx.profiles
    roles_by_target, accounts_by_target, documents = ctx.roles_by_target, ctx.accounts_by_target, ctx.documents
    data = item.data
    doc = item.doc
    target_name = data["target"]
    if target_name not in targets:
        problems.append(Problem(
            doc.where((*item.path, "target")),
            f"{item_label(item)} names the unknown target {target_name!r}",
            f"{suggest(target_name, set(targets))}declared targets: {', '.join(sorted(targets)) or 'none'}",
        ))
        return problems
    engine = targets[target_name][1]["engine"]
    problems += _name_problems(item, engine, targets[target_name][1])
    key = (target_name, data["name"], host_part(data) if engine != "postgres" else "")
    if key in seen:
        first = seen[key]
        problems.append(Problem(
            doc.where(item.path),
            f"{item_label(item)} is declared twice (first at {first.location})",
            "keep one entry per account and target; merge their grants",
        ))
    else:
        seen[key] = item
    problems += _grant_problems(item, engine, profiles, targets[target_name][1])
    if engine != "postgres" and data.get("attributes"):
        problems.append(Problem(doc.where((*item.path, "attributes"), key=True),
                                "`attributes` are PostgreSQL role attributes; MySQL/MariaDB have none",
                                "remove `attributes` (grant global privileges outside the manifest)"))
    problems += _settings_problems(item, engine)
    if engine != "postgres" and data.get("retire"):
        problems.append(Problem(doc.where((*item.path, "retire"), key=True),
                                "`retire` reassigns the objects a PostgreSQL role owns; MySQL/MariaDB accounts own "
                                "none (DROP USER takes their grants)", "remove `retire`"))
    for i, entry in enumerate(data.get("member_of") or []):
        role = membership_role(entry)
        if isinstance(entry, dict) and engine != "postgres" and set(entry) - {"role"}:
            problems.append(Problem(doc.where((*item.path, "member_of", i)),
                                    f"{item_label(item)}: membership options (admin, inherit, set) are PostgreSQL's "
                                    f"here", "write the role's name alone"))
        known = roles_by_target.get(target_name, set())
        predefined = engine == "postgres" and role.startswith("pg_")
        if role not in known and not predefined:
            problems.append(Problem(
                doc.where((*item.path, "member_of", i)),
                f"{item_label(item)} is a member of {role!r}, which is not a role of target {target_name!r}",
                f"{suggest(role, known)}declare it under `roles:` with `target: {target_name}`",
            ))
    if item.login:
        problems += _account_problems(item, engine, targets[target_name][1], documents)
    elif data["name"] in accounts_by_target.get(target_name, set()):
        problems.append(Problem(doc.where(item.path), f"role {data['name']!r} is also declared as an account",
                                "give the group role and the account different names"))
    return problems


def _settings_problems(item: Item, engine: str) -> list[Problem]:
    data, doc = item.data, item.doc
    problems = []
    for key in ("settings", "database_settings"):
        if data.get(key) and engine != "postgres":
            problems.append(Problem(doc.where((*item.path, key), key=True),
                                    f"`{key}` are PostgreSQL role settings (ALTER ROLE ... SET); MySQL/MariaDB "
                                    f"accounts have none", f"remove `{key}` (set session variables in the "
                                                           f"application or the server's parameter group)"))
    scopes = [((*item.path, "settings"), data.get("settings") or {})]
    scopes += [((*item.path, "database_settings", db), s) for db, s in (data.get("database_settings") or {}).items()]
    for path, settings in scopes:
        seen: dict[str, str] = {}
        for name in settings:
            lowered = str(name).lower()
            if engine == "postgres" and lowered == "role":
                problems.append(Problem(doc.where((*path, name), key=True),
                                        f"the `{name}` setting is the tool's own (the session role of alternating "
                                        f"accounts): setting names compare case-insensitively, as the server's do",
                                        "remove it; alternating accounts switch to their group role"))
            elif lowered in seen:
                problems.append(Problem(doc.where((*path, name), key=True),
                                        f"setting {name!r} is {seen[lowered]!r} again: the server compares setting "
                                        f"names case-insensitively", "keep one of the two"))
            seen.setdefault(lowered, str(name))
    return problems


def _derived_name_problems(all_items: list[Item], targets: dict[str, Any], rotation_defaults: dict[str, Any]
                           ) -> list[Problem]:
    """A name the tool derives (an alternating account's `_clone` user, its PostgreSQL `_group` role) must not be
    declared by another entry of the same target: that would be one role with two owners."""
    derived: dict[tuple[str, str], Item] = {}
    for item in all_items:
        target = targets.get(item.data["target"])
        strategy = {**rotation_defaults, **(item.data.get("rotation") or {})}.get("strategy", "single")
        if target is None or not item.login or strategy != "alternating" or item.data.get("auth") == "iam":
            continue
        for name in conventions.derived_names(_probe(item.data["name"]), target[1]["engine"]):
            derived[(item.data["target"], name)] = item
    problems = []
    for item in all_items:
        owner = derived.get((item.data["target"], item.data["name"]))
        if owner is not None and owner is not item:
            problems.append(Problem(
                item.doc.where((*item.path, "name")),
                f"{item_label(item)} has the name provisioner derives for {item_label(owner)} (alternating "
                f"rotation, declared at {owner.location})",
                f"rename it, or give {owner.data['name']!r} another strategy: {item.data['name']!r} would be one "
                f"role with two owners"))
    return problems


def item_label(item: Item) -> str:
    kind = "account" if item.login else "role"
    return f"{kind} {item.data.get('name')!r}"


def _merge_problems(documents: list[Document]) -> list[Problem]:
    problems: list[Problem] = []
    firsts: dict[tuple[str, ...], tuple[Document, Any]] = {}
    for doc in documents:
        for name in doc.data.get("targets") or {}:
            _first(firsts, ("targets", name), doc, problems, f"target {name!r}")
        for name in doc.data.get("profiles") or {}:
            _first(firsts, ("profiles", name), doc, problems, f"profile {name!r}")
        for section, values in (doc.data.get("defaults") or {}).items():
            for key, value in values.items():
                path = ("defaults", section, key)
                if path in firsts and firsts[path][1] != value:
                    problems.append(Problem(
                        doc.where(path, key=True),
                        f"defaults.{section}.{key} is set differently in {firsts[path][0].file}",
                        "set each default in one file only",
                    ))
                firsts.setdefault(path, (doc, value))
    return problems


def _first(firsts: dict, path: tuple[str, ...], doc: Document, problems: list[Problem], label: str) -> None:
    if path in firsts:
        problems.append(Problem(doc.where(path, key=True),
                                f"{label} is declared again (first in {firsts[path][0].file})",
                                "declare it in one file only"))
    else:
        firsts[path] = (doc, None)


def managed_databases(spec: dict[str, Any]) -> list[str]:
    """The databases a target manages: its `databases`, else its `database` alone (unknown: none)."""
    return list(spec.get("databases") or ([spec["database"]] if spec.get("database") else []))


def _database_problems(name: str, doc: Document, spec: dict[str, Any]) -> list[Problem]:
    problems = []
    if spec.get("databases") and spec["engine"] != "postgres":
        problems.append(Problem(doc.where(("targets", name, "databases"), key=True),
                                "`databases` lists the databases of a PostgreSQL cluster; a MySQL/MariaDB target "
                                "reaches every database of its server already",
                                "remove it and name objects as database.table"))
    elif spec.get("databases") and spec.get("database") and spec["database"] not in spec["databases"]:
        problems.append(Problem(doc.where(("targets", name, "database")),
                                f"target {name!r}: database {spec['database']!r} is not one of its databases "
                                f"({', '.join(spec['databases'])})", "add it to `databases:`"))
    for key in ("revoke", "grants"):
        for i, entry in enumerate((spec.get("public_privileges") or {}).get(key) or []):
            problems += _grant_database_problems(doc, ("targets", name, "public_privileges", key, i), entry, spec,
                                                 f"target {name!r}: public_privileges")
    return problems


def _grant_database_problems(doc: Document, path: tuple[Any, ...], entry: dict[str, Any], spec: dict[str, Any],
                             label: str) -> list[Problem]:
    """`database:` on a grant: PostgreSQL only, one of the target's databases, never on `databases:` grants."""
    database = entry.get("database") if isinstance(entry, dict) else None
    if database is None:
        return []
    where = doc.where((*path, "database"))
    if spec["engine"] != "postgres":
        return [Problem(where, f"{label}: `database:` on a grant is PostgreSQL's; MySQL/MariaDB name the "
                               f"database in the object (database.table)", "remove `database:`")]
    if "databases" in entry:
        return [Problem(where, f"{label}: `database:` does not apply to a `databases:` grant (databases belong "
                               f"to the cluster)", "remove `database:`")]
    known = managed_databases(spec)
    if database not in known:
        return [Problem(where, f"{label}: database {database!r} is not managed by the target "
                               f"({', '.join(known) or 'it names no database'})",
                        f"{suggest(database, known)}add it to the target's `databases:`")]
    return []


def _target_problems(name: str, doc: Document, spec: dict[str, Any]) -> list[Problem]:
    problems = _database_problems(name, doc, spec)
    if spec["engine"] != "postgres" and spec.get("default_privileges_for"):
        problems.append(Problem(doc.where(("targets", name, "default_privileges_for"), key=True),
                                "default_privileges_for applies to PostgreSQL only", "remove it"))
    public = spec.get("public_privileges") or {}
    if public and spec["engine"] != "postgres":
        problems.append(Problem(doc.where(("targets", name, "public_privileges"), key=True),
                                "public_privileges applies to PostgreSQL only (MySQL/MariaDB have no PUBLIC)",
                                "remove it"))
    for key in ("revoke", "grants") if spec["engine"] == "postgres" else ():
        for i, entry in enumerate(public.get(key) or []):
            where = doc.where(("targets", name, "public_privileges", key, i))
            try:
                parse_grant("postgres", entry, where)
            except names.NameError_ as exc:
                problems.append(Problem(where, f"target {name!r}: public_privileges: {exc}",
                                        "write schema.name, or schema.* for every object of the kind"))
                continue
            allowed = privileges.POSTGRES[privileges.GRANT_KEYS[object_key(entry)]]
            wrong = [p for p in entry["privileges"] if privileges.normalize(p) not in allowed | {"ALL"}]
            if wrong:
                problems.append(Problem(where, f"target {name!r}: public_privileges: {', '.join(wrong)} does not "
                                               f"apply here", f"use one of: {', '.join(sorted(allowed))}"))
    if (spec.get("admin") or {}).get("iam"):
        where = doc.where(("targets", name, "admin", "iam"))
        if spec["engine"] == "mariadb":
            problems.append(Problem(where, f"target {name!r}: MariaDB has no IAM database authentication",
                                    "use `admin: {secret: ...}`"))
        if not spec.get("host"):
            problems.append(Problem(where, f"target {name!r}: an IAM admin needs the target's `host` (the token "
                                           f"is signed for it)", "set `host:` (and `port:`) on the target"))
        if (spec.get("tls") or {}).get("mode") == "disable":
            problems.append(Problem(where, f"target {name!r}: IAM authentication tokens are accepted over TLS only",
                                    "remove `tls: {mode: disable}`"))
    return problems


def _name_problems(item: Item, engine: str, target: dict[str, Any]) -> list[Problem]:
    name = item.data["name"]
    problems = []
    where = item.doc.where((*item.path, "name"))
    if is_reserved(name, engine):
        problems.append(Problem(where, f"{item_label(item)} is a system or reserved account name",
                                "system and admin accounts are never managed; choose another name"))
    if engine != "postgres":
        beyond = [ch for ch in name + str(item.data.get("host", "")) if ord(ch) > 0xFFFF]
        if beyond:
            problems.append(Problem(where, f"{item_label(item)} contains {beyond[0]!r}: MySQL and MariaDB keep "
                                           f"account names in utf8mb3, which has no characters beyond U+FFFF",
                                    "use characters of the Basic Multilingual Plane"))
    limit = facts(engine).name_limit
    length = len(name.encode()) if engine == "postgres" else len(name)
    if length > limit:
        problems.append(Problem(where, f"{item_label(item)} is {length} long; {engine} allows at most {limit}",
                                "shorten the name"))
    return problems


def _account_problems(item: Item, engine: str, target: dict[str, Any],
                      documents: list[Document]) -> list[Problem]:
    problems: list[Problem] = []
    data = item.data
    doc = item.doc
    secret = {**merged_defaults(documents).get("secret", {}), **(data.get("secret") or {})}
    template = secret.get("name", "{target}/{account}")
    fields = set(re.findall(r"{([^{}]*)}", template))
    unknown = fields - SECRET_PLACEHOLDERS
    if unknown:
        problems.append(Problem(
            doc.where((*item.path, "secret", "name")) if "name" in (data.get("secret") or {})
            else doc.where(item.path),
            f"secret name template {template!r} uses unknown placeholder(s) {', '.join(sorted(unknown))}",
            "use {target}, {account}, {engine} and {database}",
        ))
    else:
        rendered = template.format(target=data["target"], account=data["name"], engine=engine,
                                   database=target.get("database") or "")
        if not SECRET_NAME.match(rendered):
            problems.append(Problem(
                doc.where(item.path),
                f"secret name {rendered!r} for {item_label(item)} is not a valid Secrets Manager name",
                "secret names use letters, digits and /_+=.@- (at most 512); set `secret.name` or rename",
            ))
    if data.get("auth") != "iam":  # no password: nothing rotates
        problems += _rotation_problems(item, engine, target, {**merged_defaults(documents).get("rotation", {}),
                                                              **(data.get("rotation") or {})})
    if engine == "mariadb" and len(data.get("member_of") or []) > 1:
        problems.append(Problem(doc.where((*item.path, "member_of")),
                                f"{item_label(item)}: MariaDB activates only one default role at login",
                                "give the account one role; grant the other roles to that role"))
    if data.get("auth") == "iam":
        if engine == "mariadb":
            problems.append(Problem(doc.where((*item.path, "auth")), f"{item_label(item)}: MariaDB has no IAM "
                                    "database authentication (RDS offers it for PostgreSQL and MySQL)",
                                    "remove `auth: iam` (the account gets a password and a secret)"))
        for key in ("rotation", "secret", "password"):
            if key in data:
                problems.append(Problem(doc.where((*item.path, key), key=True),
                                        f"{item_label(item)} uses `auth: iam`: it has no password, so no `{key}`",
                                        f"remove `{key}`"))
    if engine == "postgres" and "host" in data:
        problems.append(Problem(doc.where((*item.path, "host"), key=True),
                                "`host` is the MySQL/MariaDB host part; PostgreSQL accounts have none",
                                "remove `host` (use pg_hba.conf to restrict where a role connects from)"))
    return problems


def _rotation_problems(item: Item, engine: str, target: dict[str, Any], rotation: dict[str, Any]) -> list[Problem]:
    doc, data = item.doc, item.data
    where = doc.where((*item.path, "rotation")) if "rotation" in data else doc.where(item.path)
    problems: list[Problem] = []
    strategy = rotation.get("strategy", "single")
    if rotation.get("schedule") is not None:
        try:
            schedule.parse(rotation["schedule"])
        except schedule.ScheduleError as exc:
            problems.append(Problem(where, f"{item_label(item)}: rotation schedule: {exc}",
                                    "write rate(N days), rate(N hours) with N >= 4, cron(0 H DoM Mon DoW Y) or a "
                                    "number of days"))
    if rotation.get("window") is not None:
        try:
            schedule.window_hours(rotation["window"])
        except schedule.ScheduleError as exc:
            problems.append(Problem(where, f"{item_label(item)}: rotation window: {exc}", "e.g. window: 4h"))
    if rotation.get("function") and rotation.get("schedule") is None and strategy != "none":
        problems.append(Problem(where, f"{item_label(item)} has a rotation function but no schedule",
                                "add rotation.schedule, e.g. rate(30 days)"))
    if strategy == "alternating":
        if not (target.get("admin") or {}).get("secret"):
            problems.append(Problem(
                where,
                f"{item_label(item)} uses alternating rotation, but target {data['target']!r} has no admin secret",
                "alternating rotation sets the other user's password as the admin, whose credentials the rotation "
                "reads from the secret's `masterarn`: give the target `admin: {secret: ...}` (or use strategy single)",
            ))
        limit = facts(engine).name_limit
        for longest in conventions.derived_names(_probe(data["name"]), engine):
            suffix = longest.removeprefix(data["name"])
            length = len(longest.encode()) if engine == "postgres" else len(longest)
            if length > limit:
                problems.append(Problem(
                    doc.where((*item.path, "name")),
                    f"alternating rotation needs the user {longest!r} ({length} characters); {engine} allows {limit}",
                    f"shorten the account name to at most {limit - len(suffix)} characters",
                ))
    return problems


def _grant_problems(item: Item, engine: str, profiles: dict[str, Any], target: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    data = item.data
    doc = item.doc
    vocabulary = privileges.vocabulary(engine)
    if data.get("profile") and data["profile"] not in profiles:
        problems.append(Problem(doc.where((*item.path, "profile")),
                                f"{item_label(item)} uses the unknown profile {data['profile']!r}",
                                f"{suggest(data['profile'], set(profiles))}declared profiles: "
                                f"{', '.join(sorted(profiles)) or 'none'}"))
    for i, entry in enumerate(data.get("grants") or []):
        if entry is None:
            continue  # refused by the schema, reported there
        path = (*item.path, "grants", i)
        problems += _grant_database_problems(doc, path, entry, target, item_label(item))
        key = object_key(entry)
        kind = privileges.GRANT_KEYS[key]
        if kind not in vocabulary:
            usable = ", ".join(k for k, v in privileges.GRANT_KEYS.items() if v in vocabulary)
            problems.append(Problem(doc.where((*path, key), key=True),
                                    f"{engine} has no {key}: they cannot be granted", f"use one of: {usable}"))
            continue
        allowed = vocabulary[kind]
        if engine != "postgres" and (kind == privileges.DATABASE or any(
                str(o).endswith(".*") for o in (entry[key] if isinstance(entry[key], list) else []))):
            allowed = vocabulary[privileges.DATABASE]
        for j, raw in enumerate(entry["privileges"]):
            name = privileges.normalize(raw)
            if name != "ALL" and name not in allowed:
                known_elsewhere = name in privileges.all_known(engine)
                problems.append(Problem(
                    doc.where((*path, "privileges", j)),
                    f"privilege {raw!r} does not apply to {key}" if known_elsewhere
                    else f"unknown privilege {raw!r}",
                    f"{'' if known_elsewhere else suggest(name, allowed)}{key} take: "
                    f"{', '.join(sorted(allowed))} (or ALL)",
                ))
        try:
            parsed = parse_grant(engine, entry, None)
        except names.NameError_ as exc:
            problems.append(Problem(doc.where((*path, key)), str(exc), _name_hint(engine, kind)))
        else:
            problems += _system_schema_problems(item, path, key, engine, parsed)
        if engine != "postgres" and any(ord(ch) > 0xFFFF for ch in str(entry[key])):
            problems.append(Problem(doc.where((*path, key)), f"{key}: MySQL and MariaDB identifiers have no "
                                    f"characters beyond U+FFFF (utf8mb3)", "rename the object"))
    return problems


def _system_schema_problems(item: Item, path: tuple[Any, ...], key: str, engine: str, grants: list[Grant]
                            ) -> list[Problem]:
    """SPEC 8: no grant names or reaches the server's own schemas or the tool's bookkeeping (MySQL/MariaDB: a
    wildcard such as `pro%.*` or `%.*` reaches the marker database, where a row makes apply drop an account)."""
    problems = []
    for grant in grants:
        ref = grant.obj
        container = ref.name if ref.kind in (privileges.DATABASE, privileges.SCHEMA) else ref.schema
        pattern = ref.is_wildcard and engine != "postgres"
        if engine == "postgres" and ref.kind == privileges.DATABASE:
            continue
        reached = system_schema_reached(engine, container, pattern, (conventions.MARKER_DATABASE,))
        if reached:
            what = "the provisioner's bookkeeping" if reached == conventions.MARKER_DATABASE else "a system schema"
            problems.append(Problem(
                item.doc.where((*path, key)),
                f"{item_label(item)}: {key} {container!r}" + (f" (a pattern) reaches {reached!r}" if pattern
                                                              and container != reached else "") + f", {what}",
                "grant on application schemas only; a pattern must not match mysql, sys, performance_schema, "
                "information_schema or provisioner_meta (escape `_` as `\\_`)"))
            break
    return problems


def _name_hint(engine: str, kind: str) -> str:
    container = "schema" if engine == "postgres" else "database"
    if kind == privileges.FUNCTION:
        return f"write {container}.name(argument types), e.g. public.report(integer), or {container}.*"
    return f"write {container}.name, or {container}.* for every object; quote odd names with double quotes"


def _probe(name: str) -> Principal:
    """A stand-in alternating account, to ask `conventions` which names the tool would derive from `name`."""
    return Principal(name=name, target="", login=True, rotation=RotationSettings(strategy="alternating"))
