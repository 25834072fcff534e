"""Plans as JSON (docs/plan-json.md): one document, written a change at a time and redacted piece by piece, so
that a plan of millions of grants costs neither the memory of all their dicts at once nor one redaction of the
whole text."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.core import changes as c
from provisioner.core.model import ObjectRef
from provisioner.core.plan import Plan, Step
from provisioner.redact import redact
from provisioner.render.steps import step_lines

JSON_FORMAT_VERSION = 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, ObjectRef):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def change_json(step: Step) -> dict[str, Any]:
    change = step.change
    attributes = {f.name: _jsonable(getattr(change, f.name)) for f in dataclasses.fields(change)
                  if f.name not in ("action", "target", "principal", "implied", "widens")}
    if isinstance(change, (c.AlterRole, c.UpdateSecret)):
        # Typed settings travel as their name and plain old/new values (docs/plan-json.md).
        del attributes["was"], attributes["to"]
        attributes.update(setting=change.setting, old=_jsonable(change.old), new=_jsonable(change.new))
    return {
        "action": change.action,
        "type": change.type_name,
        "principal": change.principal,
        "implied": change.implied,
        "destructive": change.destructive,
        "widens_power": change.widens or None,
        "sql": list(step.lines),
        "description": step_lines(step)[0][2:] if not step.lines else None,
        "attributes": attributes,
    }


def as_json(plan: Plan) -> str:
    return "".join(json_pieces(plan))


def apply_json(plan: Plan, totals: Mapping[str, int], secrets_calls: int) -> str:
    return "".join(apply_json_pieces(plan, totals, secrets_calls))


def apply_json_pieces(plan: Plan, totals: Mapping[str, int], secrets_calls: int) -> Iterator[str]:
    """`apply --format json`: the plan that ran and the result, in one document (docs/plan-json.md)."""
    document = plan_document(plan, with_changes=False)
    document["kind"] = "apply"
    document["result"] = {"applied": dict(totals), "secrets_manager_calls": secrets_calls}
    return json_pieces(plan, document)


_CHANGES_AT = "\n" + " " * 8  # where json.dumps(indent=2) puts a change: inside targets[i]["changes"]


def json_pieces(plan: Plan, document: dict[str, Any] | None = None) -> Iterator[str]:
    """The text `json.dumps(document, indent=2)` makes of the plan's document, in pieces, each redacted: the
    changes are made one at a time, as a large first apply's changes as dicts all at once (two million
    objects in a large first apply) were most of its memory, and one redact over the whole text most of
    its time. A change is a whole JSON value, so no secret spans two pieces."""
    envelope = redact(json.dumps(plan_document(plan, with_changes=False) if document is None else document,
                                 indent=2, sort_keys=False))
    for index, target in enumerate(plan.targets):
        head, envelope = envelope.split(json.dumps(_changes_marker(index)), 1)
        yield head
        if not target.steps:
            yield "[]"
            continue
        yield "["
        for number, step in enumerate(target.steps):
            one = redact(json.dumps(change_json(step), indent=2, sort_keys=False))
            yield ("," if number else "") + _CHANGES_AT + one.replace("\n", _CHANGES_AT)
        yield "\n" + " " * 6 + "]"
    yield envelope + "\n"


def _changes_marker(index: int) -> str:
    return f"\x00changes of target {index}\x00"


def plan_document(plan: Plan, with_changes: bool = True) -> dict[str, Any]:
    """The JSON document of a plan (docs/plan-json.md); without the changes, a marker stands in their place
    (`json_pieces` writes them)."""
    document = {
        "format_version": JSON_FORMAT_VERSION,
        "kind": plan.mode,
        "summary": plan.counts(),
        "has_changes": plan.has_changes,
        "targets": [
            {
                "name": t.target,
                "engine": t.engine,
                "server": t.endpoint or None,
                "summary": t.counts(),
                "catalog_queries": t.queries if plan.mode == "plan" else None,
                "secrets_manager_calls": t.secrets_calls if plan.mode == "plan" else None,
                "warnings": t.warnings,
                "errors": t.errors,
                "changes": [change_json(s) for s in t.steps] if with_changes else _changes_marker(index),
            }
            for index, t in enumerate(plan.targets)
        ],
    }
    return document
