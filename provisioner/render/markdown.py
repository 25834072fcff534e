"""Plans as a pull-request comment (markdown): a summary table with the server of each target, caution blocks for
changes that widen power and for destructive ones, and each principal's SQL in a collapsed block; summarised to
fit GitHub's comment limit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from provisioner.core.plan import Plan, Step, TargetPlan
from provisioner.redact import redact
from provisioner.render.steps import by_principal, principal_label, step_lines, summary_line

GITHUB_COMMENT_LIMIT = 65_536
MARKDOWN_BUDGET = GITHUB_COMMENT_LIMIT - 1_536  # room for a bot's own header and footer


def markdown(plan: Plan, budget: int = MARKDOWN_BUDGET) -> str:
    """A PR comment: summary table, destructive-change warning, SQL per account in collapsed blocks.

    Over `budget` characters (GitHub refuses comments over 65,536), the SQL is left out and each account gets
    one line; if even that is too long, the list stops with an explicit count of what was left out.
    """
    full = _markdown(plan, detail="sql")
    if len(full) <= budget:
        return full
    summary = _markdown(plan, detail="summary", note=len(full))
    if len(summary) <= budget:
        return summary
    return _markdown(plan, detail="summary", note=len(full), budget=budget)


@dataclass
class _Budget:
    """Characters left for a PR comment (0 = unlimited); `used` counts what is already written."""

    limit: int
    used: int = 0

    def fits(self, size: int) -> bool:
        return not self.limit or self.used + size <= self.limit


def _markdown(plan: Plan, detail: str, note: int = 0, budget: int = 0) -> str:
    out = _markdown_header(plan, note)
    footer = f"\n**{summary_line(plan.counts())}**"
    room = _Budget(budget, sum(len(line) + 1 for line in out) + len(footer) + 200)
    for target in plan.targets:
        out += _markdown_target(target, detail, room)
    out.append(footer)
    return redact("\n".join(out)) + "\n"


def _markdown_header(plan: Plan, note: int) -> list[str]:
    out = ["### provisioner diff" if plan.mode == "diff" else "### provisioner plan"]
    if plan.mode == "diff":
        out.append("> [!NOTE]\n> Intended change computed from the two manifests alone; the live databases were not "
                   "consulted.")
    if note:
        out.append(f"> [!IMPORTANT]\n> Summarised: the full plan ({note:,} characters) exceeds GitHub's comment limit. "
                   "Run the same command with `--format text` (or keep its JSON as a build artifact) for every "
                   "statement.")
    if plan.digest:
        out.append(f"Plan digest: `{plan.digest}` (a saved plan applied on merge carries the same one).")
    out += _summary_table(plan)
    widening = [(t.target, s) for t in plan.targets for s in t.steps if s.change.widens]
    out += _alert("CAUTION", widening, f"{len(widening)} change(s) widen power beyond object privileges (role "
                                       f"attributes, predefined or admin roles, ADMIN OPTION): review each.",
                  lambda step: f"{_html(step.change.principal)}: {_html(step.change.widens)}")
    destructive = [(t.target, s) for t in plan.targets for s in t.steps if s.change.destructive]
    out += _alert("WARNING", destructive, f"{len(destructive)} destructive change(s): drops, revokes or secret "
                                          f"deletions.", lambda step: f"<code>{_html(step_lines(step)[0])}</code>")
    return out


def _summary_table(plan: Plan) -> list[str]:
    live = plan.mode == "plan"  # a live plan names the server each target was planned on
    out = ["", "| target | engine |" + (" server |" if live else "") + " add | change | destroy |",
           "|---|---|" + ("---|" if live else "") + "---:|---:|---:|"]
    for target in plan.targets:
        n = target.counts()
        server = f"`{_html(target.endpoint)}`" if target.endpoint else ("unreachable" if target.errors else "-")
        out.append(f"| {target.target} | {target.engine} |" + (f" {server} |" if live else "")
                   + f" {n['add']} | {n['change']} | {n['destroy']} |")
    return out


def _alert(kind: str, found: list[tuple[str, Step]], headline: str, line: Callable[[Step], str]) -> list[str]:
    """A GitHub alert block listing up to 20 steps (the rest are counted)."""
    if not found:
        return []
    out = ["", f"> [!{kind}]", f"> {headline}"]
    out += [f"> - <code>{_html(target)}</code> {line(step)}" for target, step in found[:20]]
    if len(found) > 20:
        out.append(f"> - and {len(found) - 20} more (listed per account below)")
    return out


def _markdown_target(target: TargetPlan, detail: str, room: _Budget) -> list[str]:
    out = ["", f"#### {target.target}"]
    out += [f"- :x: {error}" for error in target.errors]
    out += [f"- :warning: {warning}" for warning in target.warnings]
    if not target.steps:
        out.append("No changes.")
    principals = list(by_principal(target).items())
    if detail == "summary" and principals:
        out.append("<details><summary>accounts and roles that change</summary>\n")
    for shown, (principal, steps) in enumerate(principals):
        counts = TargetPlan(target.target, target.engine, steps).counts()
        label = f"{principal_label(target, principal)} <code>{_html(principal)}</code>: " + ", ".join(
            f"{v} to {k}" for k, v in counts.items() if v)
        if detail == "sql":
            block = [f"<details><summary>{label}</summary>\n\n```diff", *(
                line for step in steps for line in step_lines(step)), "```\n</details>"]
        else:
            block = [f"- {label}"]
        size = sum(len(line) + 1 for line in block)
        if not room.fits(size):
            rest = principals[shown:]
            changes_left = sum(len(s) for _, s in rest)
            out.append(f"- **{len(rest)} more account(s)/role(s) with {changes_left} change(s) not listed** "
                       f"(comment size limit)")
            break
        room.used += size
        out += block
    if detail == "summary" and principals:
        out.append("\n</details>")
    return out


def _html(text_: str) -> str:
    return text_.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


