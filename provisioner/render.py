"""Render: plans as text (terminal), markdown (pull-request comment) or JSON (machines; see docs/plan-json.md).

Renders what the plan holds: SQL display text that engines produced (passwords are never in it) and
descriptions of secret changes written here. Every string leaving this module passes through redaction.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, assert_never

from provisioner.core import changes as c
from provisioner.core.binding import BINDING_TAG, changed_fields
from provisioner.core.model import ObjectRef
from provisioner.core.plan import Plan, Step, TargetPlan
from provisioner.redact import redact

JSON_FORMAT_VERSION = 1
SUMMARY = "Plan: {add} to add, {change} to change, {destroy} to destroy."


def describe_secret(change: c.AnyChange) -> str:
    """The line a secret change shows in a plan (database changes show their SQL instead)."""
    match change:
        case c.CreateSecret():
            fields = change.fields
            where = f"{fields.get('username')}@{fields.get('host')}:{fields.get('port')}"
            if fields.get("dbname"):
                where += f"/{fields['dbname']}"
            kms = change.kms_key or "aws/secretsmanager"
            verb = "restore and set" if change.reuse_existing else "create"
            return (f"secret {change.secret}: {verb} with a new {change.password_length}-character password "
                    f"({where}, KMS {kms})")
        case c.UpdateSecret():
            return f"secret {change.secret}: {change.setting} {_delta(change.old, change.new)}"
        case c.ConfirmPassword():
            return f"secret {change.secret}: confirm the password an interrupted apply wrote, then clear its sync tag"
        case c.ResetPassword():
            return (f"secret {change.secret}: new password for {change.name} (written AWSPENDING, set in the "
                    f"database, then AWSCURRENT): {change.reason}")
        case c.FinishPendingPassword():
            return f"secret {change.secret}: finish an interrupted password change (version {change.version})"
        case c.ConfigureRotation():
            rules = ", ".join(f"{k}={v}" for k, v in sorted(change.rules.items()))
            now = ", rotate immediately" if change.rotate_immediately else ""
            return f"secret {change.secret}: rotation by {change.function} ({rules}{now}); was {change.was}"
        case c.DisableRotation():
            return f"secret {change.secret}: disable rotation (the manifest sets no rotation function)"
        case c.DeleteSecret():
            return f"secret {change.secret}: schedule deletion (recovery window {change.recovery_days} days)"
        case (c.CreateRole() | c.AlterRole() | c.DropRole() | c.SetPassword() | c.GrantMembership()
              | c.RevokeMembership() | c.SetDefaultRoles() | c.GrantPrivileges() | c.RevokePrivileges()
              | c.RestoreColumnPrivileges() | c.RevokeGrantOption() | c.DropOwned() | c.AlterMembership()
              | c.TerminateSessions() | c.ReassignOwned()
              | c.GrantDefaultPrivileges() | c.RevokeDefaultPrivileges()):
            return change.type_name
        case _:
            assert_never(change)


def _delta(old: object, new: object) -> str:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        parts = []
        for key in sorted(set(old) | set(new)):
            if key == BINDING_TAG:
                if old.get(key) != new.get(key):  # digests mean nothing to a reader: the fields they record do
                    what = "recorded" if key not in old else "changes: " + ", ".join(
                        changed_fields(str(old[key]), str(new.get(key) or "")))
                    parts.append(f"{key} (where the account lives) {what}")
            elif key not in new:
                parts.append(f"-{key}={old[key]}")
            elif key not in old:
                parts.append(f"+{key}={new[key]}")
            elif str(old[key]) != str(new[key]):
                parts.append(f"{key}: {old[key]} -> {new[key]}")
        return ", ".join(parts)
    return f"{json.dumps(old)} -> {json.dumps(new)}"


def step_lines(step: Step) -> list[str]:
    """The lines of one step, each prefixed by its action sign and annotated when implied or a password."""
    change = step.change
    notes = [f"in database {change.database}"] if change.database else []
    if change.widens:
        notes.append(f"WIDENS POWER: {change.widens}")
    if change.implied:
        notes.append("implied by its grants on objects inside")
    elif isinstance(change, c.SetPassword):
        notes.append(f"{change.reason}; password from secret {change.secret}")
    elif isinstance(change, c.ResetPassword):
        notes.append(f"new password for {change.name} ({change.reason}), written AWSPENDING in secret "
                     f"{change.secret} first, AWSCURRENT once set")
    note = "  -- " + "; ".join(notes) if notes else ""
    if step.lines:
        return [f"{change.action} {line}{note if i == len(step.lines) - 1 else ''}"
                for i, line in enumerate(step.lines)]
    return [f"{change.action} {describe_secret(change)}"]


def by_principal(plan: TargetPlan) -> dict[str, list[Step]]:
    grouped: dict[str, list[Step]] = {}
    for step in plan.steps:
        grouped.setdefault(step.change.principal, []).append(step)
    return grouped


def summary_line(counts: Mapping[str, int]) -> str:
    return SUMMARY.format(**counts)


def _principal_label(plan: TargetPlan, principal: str) -> str:
    return plan.labels.get(principal, "account")


# ---------------------------------------------------------------- text


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
            out.append(f"  {_principal_label(target, principal)} {principal}")
            for step in steps:
                out += [f"    {line}" for line in step_lines(step)]
        out.append("")
    out.append(summary_line(plan.counts()))
    return redact("\n".join(out)) + "\n"


# ---------------------------------------------------------------- markdown


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
    live = plan.mode == "plan"  # a live plan names the server each target was planned on
    out += ["", "| target | engine |" + (" server |" if live else "") + " add | change | destroy |",
            "|---|---|" + ("---|" if live else "") + "---:|---:|---:|"]
    for target in plan.targets:
        n = target.counts()
        server = f"`{_html(target.endpoint)}`" if target.endpoint else ("unreachable" if target.errors else "-")
        out.append(f"| {target.target} | {target.engine} |" + (f" {server} |" if live else "")
                   + f" {n['add']} | {n['change']} | {n['destroy']} |")
    widening = [(t.target, s) for t in plan.targets for s in t.steps if s.change.widens]
    if widening:
        out += ["", "> [!CAUTION]", f"> {len(widening)} change(s) widen power beyond object privileges (role "
                                    f"attributes, predefined or admin roles, ADMIN OPTION): review each."]
        for target_name, step in widening[:20]:
            out.append(f"> - <code>{_html(target_name)}</code> {_html(step.change.principal)}: "
                       f"{_html(step.change.widens)}")
        if len(widening) > 20:
            out.append(f"> - and {len(widening) - 20} more (listed per account below)")
    destructive = [(t.target, s) for t in plan.targets for s in t.steps if s.change.destructive]
    if destructive:
        out += ["", "> [!WARNING]", f"> {len(destructive)} destructive change(s): drops, revokes or secret deletions."]
        for target_name, step in destructive[:20]:
            out.append(f"> - <code>{_html(target_name)}</code> <code>{_html(step_lines(step)[0])}</code>")
        if len(destructive) > 20:
            out.append(f"> - and {len(destructive) - 20} more (listed per account below)")
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
        label = f"{_principal_label(target, principal)} <code>{_html(principal)}</code>: " + ", ".join(
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


# ---------------------------------------------------------------- json


def _jsonable(value: Any) -> Any:
    if isinstance(value, ObjectRef):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def change_json(step: Step) -> dict[str, Any]:
    change = step.change
    attributes = {f.name: _jsonable(getattr(change, f.name)) for f in dataclasses.fields(change)
                  if f.name not in ("action", "target", "principal", "implied", "widens")}
    if isinstance(change, (c.AlterRole, c.UpdateSecret)):
        # Typed settings travel as their name and plain old/new values (docs/plan-json.md).
        del attributes["was"], attributes["to"]
        attributes.update(setting=change.setting, old=_jsonable(change.old), new=_jsonable(change.new))
    return {
        "action": change.action,
        "type": change.type_name,
        "principal": change.principal,
        "implied": change.implied,
        "destructive": change.destructive,
        "widens_power": change.widens or None,
        "sql": list(step.lines),
        "description": step_lines(step)[0][2:] if not step.lines else None,
        "attributes": attributes,
    }


def as_json(plan: Plan) -> str:
    return "".join(json_pieces(plan))


def apply_json(plan: Plan, totals: Mapping[str, int], secrets_calls: int) -> str:
    return "".join(apply_json_pieces(plan, totals, secrets_calls))


def apply_json_pieces(plan: Plan, totals: Mapping[str, int], secrets_calls: int) -> Iterator[str]:
    """`apply --format json`: the plan that ran and the result, in one document (docs/plan-json.md)."""
    document = plan_document(plan, with_changes=False)
    document["kind"] = "apply"
    document["result"] = {"applied": dict(totals), "secrets_manager_calls": secrets_calls}
    return json_pieces(plan, document)


_CHANGES_AT = "\n" + " " * 8  # where json.dumps(indent=2) puts a change: inside targets[i]["changes"]


def json_pieces(plan: Plan, document: dict[str, Any] | None = None) -> Iterator[str]:
    """The text `json.dumps(document, indent=2)` makes of the plan's document, in pieces, each redacted: the
    changes are made one at a time, as a large first apply's changes as dicts all at once (two million
    objects at 1,000 roles x 2,000 tables) were most of its memory, and one redact over the whole text most of
    its time. A change is a whole JSON value, so no secret spans two pieces."""
    envelope = redact(json.dumps(plan_document(plan, with_changes=False) if document is None else document,
                                 indent=2, sort_keys=False))
    for index, target in enumerate(plan.targets):
        head, envelope = envelope.split(json.dumps(_changes_marker(index)), 1)
        yield head
        if not target.steps:
            yield "[]"
            continue
        yield "["
        for number, step in enumerate(target.steps):
            one = redact(json.dumps(change_json(step), indent=2, sort_keys=False))
            yield ("," if number else "") + _CHANGES_AT + one.replace("\n", _CHANGES_AT)
        yield "\n" + " " * 6 + "]"
    yield envelope + "\n"


def _changes_marker(index: int) -> str:
    return f"\x00changes of target {index}\x00"


def plan_document(plan: Plan, with_changes: bool = True) -> dict[str, Any]:
    """The JSON document of a plan (docs/plan-json.md); without the changes, a marker stands in their place
    (`json_pieces` writes them)."""
    document = {
        "format_version": JSON_FORMAT_VERSION,
        "kind": plan.mode,
        "summary": plan.counts(),
        "has_changes": plan.has_changes,
        "targets": [
            {
                "name": t.target,
                "engine": t.engine,
                "server": t.endpoint or None,
                "summary": t.counts(),
                "catalog_queries": t.queries if plan.mode == "plan" else None,
                "secrets_manager_calls": t.secrets_calls if plan.mode == "plan" else None,
                "warnings": t.warnings,
                "errors": t.errors,
                "changes": [change_json(s) for s in t.steps] if with_changes else _changes_marker(index),
            }
            for index, t in enumerate(plan.targets)
        ],
    }
    return document


RENDERERS = {"text": text, "markdown": markdown, "json": as_json}
