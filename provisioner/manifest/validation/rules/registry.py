"""The registry of semantic rules: each rule has a name (tests and messages find it by it), a subject (a target,
an account or role entry, or the whole manifest) and a check. Rule modules register theirs on import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from provisioner.core.engine_facts import ENGINES, EngineFacts
from provisioner.errors import Problem
from provisioner.manifest.documents import Document, Item, items, merged_defaults, merged_profiles, merged_targets

Subject = Literal["target", "entry", "manifest"]


@dataclass(frozen=True)
class Known:
    """What the rules look things up in: the documents, merged targets, profiles and defaults, every entry, and
    the role and account names of each target."""

    documents: list[Document]
    targets: dict[str, tuple[Document, dict[str, Any]]]
    profiles: dict[str, Any]
    defaults: dict[str, Any]
    entries: list[Item]
    roles_by_target: dict[str, set[str]] = field(default_factory=dict)
    accounts_by_target: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, documents: list[Document], broken_targets: set[str]) -> Known:
        entries = [item for item in items(documents) if item.data["target"] not in broken_targets]
        known = cls(documents, merged_targets(documents), merged_profiles(documents), merged_defaults(documents),
                    entries)
        for item in entries:
            by_target = known.accounts_by_target if item.login else known.roles_by_target
            by_target.setdefault(item.data["target"], set()).add(item.data["name"])
        return known

    def engine_of_target(self, name: str) -> EngineFacts:
        return ENGINES[self.targets[name][1]["engine"]]

    def engine_of(self, item: Item) -> EngineFacts | None:
        target = self.targets.get(item.data["target"])
        return ENGINES.get(target[1]["engine"]) if target else None

    def target_of(self, item: Item) -> dict[str, Any]:
        return self.targets[item.data["target"]][1]

    def section(self, item: Item, name: str) -> dict[str, Any]:
        """A setting section of an entry (`rotation`, `secret`, ...) over the manifest's defaults."""
        return {**self.defaults.get(name, {}), **(item.data.get(name) or {})}


TargetCheck = Callable[[str, Document, dict[str, Any], EngineFacts, Known], list[Problem]]
EntryCheck = Callable[[Item, EngineFacts, Known], list[Problem]]
ManifestCheck = Callable[[Known], list[Problem]]


@dataclass(frozen=True)
class Rule:
    name: str
    subject: Subject
    check: Callable[..., list[Problem]]


RULES: dict[str, Rule] = {}


def rule(subject: Subject, name: str) -> Callable[[Callable[..., list[Problem]]], Callable[..., list[Problem]]]:
    """Register a check under `name` for `subject`."""
    def register(check: Callable[..., list[Problem]]) -> Callable[..., list[Problem]]:
        assert name not in RULES, f"rule {name} is registered twice"
        RULES[name] = Rule(name, subject, check)
        return check
    return register


def rules_of(subject: Subject) -> list[Rule]:
    return [r for r in RULES.values() if r.subject == subject]
