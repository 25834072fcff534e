"""Privilege names: how the manifest's spellings normalise, what ALL expands to for a kind on an engine family
and server version, and which names exist at all. The privileges of each kind live in the kinds registry
(`core.kinds`); this module knows no kind by name and no SQL.
"""

from __future__ import annotations

from functools import cache

from provisioner.core.kinds import KINDS, SPECS, Family, ObjectKind

ALIASES = {"TEMP": "TEMPORARY", "ALL PRIVILEGES": "ALL"}


@cache  # a few dozen distinct spellings, normalised thousands of times in a large manifest
def normalize(privilege: str) -> str:
    upper = " ".join(privilege.upper().split())
    return ALIASES.get(upper, upper)


def version_specific(family: Family | str, kind: ObjectKind | str) -> frozenset[str]:
    return frozenset(KINDS[ObjectKind(kind)].since.get(Family(family), {}))


def available(family: Family | str, kind: ObjectKind | str, major: int) -> frozenset[str]:
    """The version-specific privileges of a kind that a server of this major version has."""
    since = KINDS[ObjectKind(kind)].since.get(Family(family), {})
    return frozenset(p for p, first in since.items() if major >= first)


def expand(family: Family | str, kind: ObjectKind | str, privileges: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Normalise names and expand ALL to every privilege of the kind that every server version has."""
    return _expand(Family(family), ObjectKind(kind), tuple(privileges))


@cache
def _expand(family: Family, kind: ObjectKind, privileges: tuple[str, ...]) -> frozenset[str]:
    allowed = KINDS[kind].on(family) - version_specific(family, kind)
    result: set[str] = set()
    for raw in privileges:
        name = normalize(raw)
        if name == "ALL":
            result |= allowed
        else:
            result.add(name)
    return frozenset(result)


def says_all(privileges: list[str] | tuple[str, ...]) -> bool:
    return any(normalize(raw) == "ALL" for raw in privileges)


def all_known(family: Family | str | None = None) -> frozenset[str]:
    families = [Family(family)] if family else list(Family)
    return frozenset(p for f in families for spec in SPECS for p in spec.on(f)) | {"ALL"}
