"""What every renderer says of a step: the line of a secret change (database changes show the SQL engines
produced), the notes (implied, in which database, widens power), grouping by principal, the summary line."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import assert_never

from provisioner.core import changes as c
from provisioner.core.binding import BINDING_TAG, changed_fields
from provisioner.core.plan import Step, TargetPlan

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
              | c.TerminateSessions() | c.ReassignOwned() | c.AlterOwner()
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


def principal_label(plan: TargetPlan, principal: str) -> str:
    return plan.labels.get(principal, "account")
