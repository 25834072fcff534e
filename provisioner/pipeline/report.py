"""What an apply did, for the user: the steps applied and kept, those sent inside a transaction that was
rolled back, and those not applied; the failure message built from it says how a rerun continues."""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioner import render
from provisioner.core.plan import TargetPlan
from provisioner.redact import redact


@dataclass
class ApplyReport:
    target: str
    plan: TargetPlan
    transactional: bool = True
    done: list[str] = field(default_factory=list)  # applied and kept
    uncommitted: list[str] = field(default_factory=list)  # sent inside the open transaction
    completed: set[int] = field(default_factory=set)  # indices of finished steps
    sent: set[int] = field(default_factory=set)  # indices of database steps sent in the open transaction
    committed: bool = False  # whether a transaction of this apply was committed (a cluster's: the last one)

    def record(self, text: str) -> None:
        (self.uncommitted if self.transactional else self.done).append(text)

    def note(self, text: str) -> None:
        self.done.append(text)

    def commit(self) -> None:
        """The open transaction was committed: what it sent is applied."""
        self.committed = True
        self.done += self.uncommitted
        self.uncommitted = []
        self.completed |= self.sent
        self.sent = set()


def failure_message(target: str, report: ApplyReport | None, exc: Exception) -> str:
    lines = [f"apply of target {target} failed: {redact(str(exc).strip())}"]
    if report is None:
        return "\n".join(lines)
    if report.done:
        lines.append("applied before the failure (kept):")
        lines += [f"  {d}" for d in report.done]
    pending = [step for i, step in enumerate(report.plan.steps)
               if i not in report.completed and not (i in report.sent and not report.transactional)]
    if pending:
        lines.append("not applied:")
        for step in pending:
            lines += [f"  {line}" for line in render.step_lines(step)]
    if report.transactional and (report.uncommitted or not report.committed):
        lines.append("the database statements of the open transaction were rolled back"
                     if report.committed else "the database statements of this target were rolled back as one "
                                              "transaction")
    lines.append("run apply again once the cause is fixed: it continues from the current state")
    return "\n".join(lines)
