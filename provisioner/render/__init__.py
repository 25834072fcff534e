"""Output for people and machines: plans as text (`text`), PR comments (`markdown`) and JSON (`plan_json`), the
doctor's report (`doctor`), and what they share about a step (`steps`). Renders what it is given — SQL that
engines produced, descriptions of secret changes — and passes every string through redaction."""

from __future__ import annotations

from collections.abc import Callable

from provisioner.core.plan import Plan
from provisioner.render.markdown import GITHUB_COMMENT_LIMIT, markdown
from provisioner.render.plan_json import apply_json, apply_json_pieces, as_json, json_pieces, plan_document
from provisioner.render.steps import describe_secret, step_lines, summary_line
from provisioner.render.text import coloured, text, wants_colour

RENDERERS: dict[str, Callable[[Plan], str]] = {"text": text, "markdown": markdown, "json": as_json}

__all__ = ["GITHUB_COMMENT_LIMIT", "RENDERERS", "apply_json", "apply_json_pieces", "as_json", "coloured",
           "describe_secret", "json_pieces", "markdown", "plan_document", "step_lines", "summary_line", "text",
           "wants_colour"]
