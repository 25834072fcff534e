"""The JSON Schema check (`schemas/accounts.schema.json`) and how its errors are worded: each error becomes a
problem at the exact key or value, with a hint. Valid documents are confirmed by the compiled validator
(jsonschema-rs); only an invalid one is walked by jsonschema, whose errors carry the paths and context."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.errors import Problem
from provisioner.manifest.documents import Document
from provisioner.manifest.validation.words import dotted, shown, suggest, type_name

if TYPE_CHECKING:  # imported where a document is invalid: a valid one never needs it
    import jsonschema

SCHEMA_FILE = "accounts.schema.json"


def schema_path() -> Path:
    package = Path(__file__).resolve().parents[2]  # provisioner/
    for candidate in (package / "schemas" / SCHEMA_FILE, package.parent / "schemas" / SCHEMA_FILE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{SCHEMA_FILE} not found next to the package")


@cache
def schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text(encoding="utf-8"))


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
    # A valid document (the common case) is confirmed by the compiled validator (faster: benchmarks/); an invalid
    # one is walked by jsonschema, whose errors (paths, oneOf context) the messages and positions are built from.
    fast = _compiled()
    if fast is not None and fast.is_valid(doc.data):
        return []
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    found = []
    for error in sorted(validator.iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path]):
        # Report the most specific error of a oneOf/anyOf group rather than the group.
        grant = isinstance(error.schema, dict) and error.schema.get("x-grant") and error.validator == "oneOf"
        found.append(jsonschema.exceptions.best_match([error]) if error.context and not grant else error)
    return found


def schema_problems(doc: Document) -> list[Problem]:
    if not isinstance(doc.data, dict):
        return [Problem(doc.where(()), "a manifest must be a mapping with `version: 1` at the top",
                        "start the file with `version: 1`")]
    return [schema_problem(doc, error) for error in schema_errors(doc)]


Wording = Callable[[Document, "jsonschema.ValidationError", tuple[Any, ...], str, str], Problem]


def schema_problem(doc: Document, error: jsonschema.ValidationError) -> Problem:
    """One schema error as a problem at its place, in the manifest's terms."""
    path = tuple(error.absolute_path)
    where = dotted(path)[:200]
    if path and path[-1] == "url_env" and "://" in str(error.instance):
        return Problem(doc.where(path), f"{where} names an environment variable, not the URL itself",
                       "export the URL in a variable (export FILMS_ADMIN_URL='postgresql://...') and write "
                       "`url_env: FILMS_ADMIN_URL`; the URL, which holds a password, never goes in the file")
    hint = error.schema.get("x-hint", "") if isinstance(error.schema, dict) else ""
    wording = WORDINGS.get(str(error.validator), _generic)
    return wording(doc, error, path, where, hint)


def _unknown_key(doc: Document, error: Any, path: tuple[Any, ...], where: str, hint: str) -> Problem:
    allowed = sorted((error.schema.get("properties") or {}).keys())
    extras = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
    key = extras[0] if extras else "?"
    return Problem(doc.where((*path, key), key=True), f"unknown key {shown(key)} in {where}",
                   f"{suggest(str(key)[:200], allowed)}allowed keys: {', '.join(allowed)}")


def _required(doc: Document, error: Any, path: tuple[Any, ...], where: str, hint: str) -> Problem:
    missing = re.findall(r"'([^']+)' is a required property", error.message)
    key = missing[0] if missing else error.message
    wanted = (error.schema.get("properties") or {}).get(key, {}) if isinstance(error.schema, dict) else {}
    value = f" {wanted['const']}" if isinstance(wanted, dict) and "const" in wanted else " ..."
    return Problem(doc.where(path), f"{where} is missing the required key {key!r}", hint or f"add `{key}:{value}`")


def _type(doc: Document, error: Any, path: tuple[Any, ...], where: str, hint: str) -> Problem:
    expected = error.validator_value
    expected = " or ".join(expected) if isinstance(expected, list) else expected
    return Problem(doc.where(path), f"{where} must be {expected}, not {type_name(error.instance)}", hint)


def _choice(doc: Document, error: Any, path: tuple[Any, ...], where: str, hint: str) -> Problem:
    options = error.validator_value if error.validator == "enum" else [error.validator_value]
    return Problem(doc.where(path), f"{where}: {shown(error.instance)} is not allowed",
                   hint or f"{suggest(str(error.instance)[:200], [str(o) for o in options])}use one of: "
                   + ", ".join(repr(o) for o in options))


def _length(doc: Document, error: Any, path: tuple[Any, ...], where: str, hint: str) -> Problem:
    length = len(error.instance) if isinstance(error.instance, str) else 0
    bound = "at most" if error.validator == "maxLength" else "at least"
    return Problem(doc.where(path), f"{where} is {length:,} characters long; it must be {bound} "
                                    f"{error.validator_value}", hint)


def _not_valid(doc: Document, error: Any, path: tuple[Any, ...], where: str, hint: str) -> Problem:
    return Problem(doc.where(path), f"{where}: {shown(error.instance)} is not valid here", hint)


def _one_of(doc: Document, error: Any, path: tuple[Any, ...], where: str, hint: str) -> Problem:
    if error.schema.get("x-grant"):  # a grant names exactly one kind of object (one `required` branch each)
        return _properties(doc, error, path, where, hint)
    return _not_valid(doc, error, path, where, hint)


def _properties(doc: Document, error: Any, path: tuple[Any, ...], where: str, hint: str) -> Problem:
    if "privileges" in (error.schema.get("properties") or {}) or error.schema.get("x-grant"):
        return Problem(doc.where(path), f"{where}: a grant must name exactly one kind of object", hint)
    return Problem(doc.where(path), f"{where}: {error.message}", hint)


def _generic(doc: Document, error: Any, path: tuple[Any, ...], where: str, hint: str) -> Problem:
    message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    return Problem(doc.where(path), f"{where}: {message}", hint)


WORDINGS: dict[str, Wording] = {
    "additionalProperties": _unknown_key, "required": _required, "type": _type, "enum": _choice, "const": _choice,
    "maxLength": _length, "minLength": _length, "pattern": _not_valid, "oneOf": _one_of, "not": _not_valid,
    "minProperties": _properties, "maxProperties": _properties,
}
