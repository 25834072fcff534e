"""Where the command line writes, and how: results on standard output, messages on standard error, progress only
on a terminal, colour only on a terminal that wants it (NO_COLOR), nothing but errors and results with
`--quiet`, an error object on standard output with `--format json`. Everything passes through redaction."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from provisioner import redact
from provisioner.render import coloured, wants_colour


@dataclass
class Output:
    format: str = "text"
    quiet: bool = False

    def out(self, text: str | Iterator[str]) -> None:
        """Standard output, redacted; an iterator of pieces (a JSON plan) is written piece by piece."""
        colour = self.format == "text" and isinstance(text, str) and wants_colour(sys.stdout)
        for piece in [text] if isinstance(text, str) else text:
            clean = redact.redact(piece)
            sys.stdout.write(coloured(clean) if colour else clean)
        sys.stdout.flush()

    def err(self, text: str) -> None:
        """A message on standard error (errors and warnings: shown even with --quiet)."""
        sys.stderr.write(redact.redact(text) + ("" if text.endswith("\n") else "\n"))
        sys.stderr.flush()

    def note(self, text: str) -> None:
        """Information for a person (notes, what a target did): not with --quiet."""
        if not self.quiet:
            self.err(text)

    def progress(self, text: str) -> None:
        """Progress and retry notes: on standard error, and only when it is a terminal (and not --quiet)."""
        if sys.stderr.isatty() and not self.quiet:
            self.err(f"... {text}")

    def error_document(self, message: str, hint: str = "", problems: list[dict[str, object]] | None = None) -> None:
        """With --format json, standard output still holds one JSON document when a command fails
        (docs/plan-json.md: "errors")."""
        if self.format == "json":
            document: dict[str, object] = {"error": {"message": message, "hint": hint or None}}
            if problems is not None:
                document["problems"] = problems
            self.out(json.dumps(document, indent=2) + "\n")
