"""What the rules see of a document the schema refused parts of: the document without those parts, as little
left out as possible, so that every other problem of every entry is reported in the same run (a refused grant
leaves out that grant, an unknown key that key; an entry goes only when its name or target is unusable)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provisioner.manifest.documents import Document

if TYPE_CHECKING:
    import jsonschema

SECTIONS = ("roles", "accounts", "targets", "defaults", "profiles")
IDENTITY = ("name", "target")  # without these an entry cannot be checked at all
LISTS = ("grants", "member_of")  # a refused element of these leaves out that element only


def without_refused(doc: Document, errors: list[jsonschema.ValidationError]) -> tuple[Document, set[str]]:
    """A copy of the document without the parts the schema refused (list elements become None, keeping the
    indices that locations use), and the names of the targets left out."""
    data: dict[Any, Any] = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                            for k, v in doc.data.items()}
    broken_targets: set[str] = set()
    for error in errors:
        path = tuple(error.absolute_path)
        if not path:
            continue
        section = path[0]
        if len(path) == 1 or section not in SECTIONS:
            data.pop(section, None)
        elif section in ("roles", "accounts"):
            if isinstance(data.get(section), list):
                _prune_entry(data[section], path, error)
        elif section == "targets" and len(path) > 2 and path[2] != "engine":
            continue  # a target with a known engine still checks its accounts (e.g. a URL put in url_env)
        elif isinstance(data.get(section), dict):
            data[section].pop(path[1], None)
            if section == "targets":
                broken_targets.add(str(path[1]))
    return Document(doc.file, data, doc.values, doc.keys), broken_targets


def _prune_entry(entries: list[Any], path: tuple[Any, ...], error: jsonschema.ValidationError) -> None:
    index = path[1]
    if not isinstance(index, int) or index >= len(entries) or not isinstance(entries[index], dict):
        return
    entry = dict(entries[index])
    if len(path) == 2:
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = (error.schema.get("properties") or {}) if isinstance(error.schema, dict) else {}
            entry = {k: v for k, v in entry.items() if k in allowed}
        else:
            entries[index] = None
            return
    elif path[2] in IDENTITY:
        entries[index] = None
        return
    elif path[2] in LISTS and len(path) > 3 and isinstance(entry.get(path[2]), list):
        elements = list(entry[path[2]])
        if isinstance(path[3], int) and path[3] < len(elements):
            elements[path[3]] = None
        entry[path[2]] = elements
    else:
        entry.pop(path[2], None)
    entries[index] = entry
