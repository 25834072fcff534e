"""What `doctor` finds: a check per secret (rotation enabled, function, permission, network path, last rotation,
login), each PASS, FAIL or SKIP with its detail and, for a failure, the fix."""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass
class Check:
    name: str
    status: str  # PASS | FAIL | SKIP
    detail: str
    fix: str = ""


@dataclass
class SecretReport:
    secret: str
    target: str
    account: str
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check(name, status, detail, fix))

    @property
    def failed(self) -> bool:
        return any(check.status == FAIL for check in self.checks)
