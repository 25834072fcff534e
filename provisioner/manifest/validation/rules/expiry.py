"""Rules about `expires:` (SPEC 11) on an account, a `member_of` entry or a grant: a real instant with its zone
(the schema checks the shape; this, the calendar: no 2027-02-30)."""

from __future__ import annotations

from typing import Any

from provisioner.core.engine_facts import EngineFacts
from provisioner.errors import Problem
from provisioner.manifest.build import timestamp
from provisioner.manifest.documents import Item
from provisioner.manifest.validation.rules.registry import Known, rule
from provisioner.manifest.validation.words import item_label


def _expiries(item: Item) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every `expires:` of an entry."""
    data, path = item.data, item.path
    found = [((*path, "expires"), data["expires"])] if data.get("expires") is not None else []
    for i, entry in enumerate(data.get("member_of") or ()):
        if isinstance(entry, dict) and entry.get("expires") is not None:
            found.append(((*path, "member_of", i, "expires"), entry["expires"]))
    for i, entry in enumerate(data.get("grants") or ()):
        if isinstance(entry, dict) and entry.get("expires") is not None:
            found.append(((*path, "grants", i, "expires"), entry["expires"]))
    return found


@rule("entry", "entry-expiry")
def expiry(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    problems = []
    for path, value in _expiries(item):
        try:
            timestamp(value)
        except ValueError as exc:
            problems.append(Problem(item.doc.where(path), f"{item_label(item)}: expires {value!r} is no instant "
                                                          f"({exc})", "write an ISO 8601 timestamp with its zone, "
                                                                      "e.g. 2027-03-31T00:00:00Z"))
    if item.data.get("expires") is not None and not item.login:
        problems.append(Problem(item.doc.where((*item.path, "expires"), key=True),
                                f"{item_label(item)}: `expires` is for accounts, memberships and grants",
                                "let the roles' grants or the memberships in them expire instead"))
    return problems
