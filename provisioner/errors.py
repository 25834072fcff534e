"""Error types the command line turns into clear messages and exit code 1.

Every error the user can cause or fix carries a message and, where there is one, a hint saying what to do.
Messages never contain a password: they are built from names, not from credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.core.model import Location

__all__ = ["ApplyError", "Location", "PlanError", "Problem", "ProvisionerError", "ValidationError"]


@dataclass(frozen=True)
class Problem:
    """One validation finding: where, what, and how to fix it."""

    location: Location | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}error: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class ProvisionerError(Exception):
    """An error with a message meant for the user, and an optional hint."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f"\n    hint: {self.hint}" if self.hint else "")


class ValidationError(ProvisionerError):
    """The manifest is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the manifest")

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems) + f"\n{self.message}"


class PlanError(ProvisionerError):
    """The live state and the manifest cannot be reconciled as written (e.g. a granted table is missing)."""


class ApplyError(ProvisionerError):
    """Apply stopped part-way; says what was applied and what was not."""
