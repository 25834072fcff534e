"""The plan: each target's ordered steps (a change and the text it shows), its warnings and errors.

`Plan` is the container the renderers print and the apply pipeline carries out; `plan` the pipeline step that
builds it lives in `pipeline.planning`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioner.core.changes import ADD, CHANGE, DESTROY, AnyChange


@dataclass
class Step:
    """A change with its display text (SQL for database changes, nothing for secret changes)."""

    change: AnyChange
    lines: tuple[str, ...]


def _empty_counts() -> dict[str, int]:
    return {"add": 0, "change": 0, "destroy": 0}


@dataclass
class TargetPlan:
    target: str
    engine: str
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queries: int = 0
    secrets_calls: int = 0
    labels: dict[str, str] = field(default_factory=dict)  # principal -> "account" | "role"
    endpoint: str = ""  # where it was planned: user@host:port/database (empty for offline diffs)
    # For a saved plan (`plan --out`): the server's identity and the inventory of what was inspected
    identity: str = ""
    inventory: dict[str, str] = field(default_factory=dict)

    @property
    def changes(self) -> list[AnyChange]:
        return [s.change for s in self.steps]

    def counts(self) -> dict[str, int]:
        counts = _empty_counts()
        for change in self.changes:
            counts[{ADD: "add", CHANGE: "change", DESTROY: "destroy"}[change.action]] += 1
        return counts


@dataclass
class Plan:
    targets: list[TargetPlan]
    mode: str = "plan"  # plan | diff
    digest: str = ""  # of a saved plan (`plan --out`): shown in PR comments so a reviewer can match the apply

    def counts(self) -> dict[str, int]:
        total = _empty_counts()
        for target in self.targets:
            for key, value in target.counts().items():
                total[key] += value
        return total

    @property
    def has_changes(self) -> bool:
        return any(t.steps for t in self.targets)

    @property
    def errors(self) -> list[str]:
        return [e for t in self.targets for e in t.errors]
