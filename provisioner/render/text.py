"""Plans as text, for a terminal: each target with the server it was planned on, its errors and warnings, and
each principal's steps with their SQL; `+ ~ -` coloured when the output is a terminal that wants colour."""

from __future__ import annotations

import os
import re

from provisioner.core.plan import Plan
from provisioner.redact import redact
from provisioner.render.steps import by_principal, principal_label, step_lines, summary_line


def text(plan: Plan) -> str:
    out: list[str] = []
    if plan.mode == "diff":
        out.append("Intended change between two manifests (no database or AWS was consulted; the live state may "
                   "differ: run `provisioner plan` for that).")
        out.append("")
    for target in plan.targets:
        header = f"Target {target.target} ({target.engine}" + (f", {target.endpoint}" if target.endpoint else "") + ")"
        if plan.mode == "plan" and not (target.errors and not target.queries):
            header += f": {target.queries} catalog queries"
        out.append(header)
        for error in target.errors:
            out.append(f"  error: {error}")
        for warning in target.warnings:
            out.append(f"  warning: {warning}")
        if not target.steps:
            out.append("  not planned" if target.errors and not target.endpoint and plan.mode == "plan"
                       else "  no changes")
        for principal, steps in by_principal(target).items():
            out.append("")
            out.append(f"  {principal_label(target, principal)} {principal}")
            for step in steps:
                out += [f"    {line}" for line in step_lines(step)]
        out.append("")
    out.append(summary_line(plan.counts()))
    return redact("\n".join(out)) + "\n"




COLOURS = {"+": "32", "~": "33", "-": "31"}  # green, yellow, red
_SIGN = re.compile(r"^(\s*)([+~-]) ", re.MULTILINE)


def wants_colour(stream: object) -> bool:
    """A terminal, and no NO_COLOR (https://no-color.org) in the environment."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def coloured(text_: str) -> str:
    """The `+ ~ -` signs of plan lines in colour (ANSI)."""
    return _SIGN.sub(lambda m: f"{m.group(1)}\033[{COLOURS[m.group(2)]}m{m.group(2)}\033[0m ", text_)
