"""The doctor's report as text (each secret, each check, the fix of each failure, a summary line) and as JSON."""

from __future__ import annotations

import json

from provisioner.core.checks import FAIL, PASS, SKIP, SecretReport
from provisioner.redact import redact


def doctor_text(reports: list[SecretReport]) -> str:
    lines = []
    counts = {PASS: 0, FAIL: 0, SKIP: 0}
    for report in reports:
        lines.append(f"secret {report.secret} (account {report.account}, target {report.target})")
        for check in report.checks:
            counts[check.status] += 1
            lines.append(f"  {check.status} {check.name:<31} {check.detail}")
            if check.status == FAIL and check.fix:
                lines.append(f"       fix: {check.fix}")
        lines.append("")
    if not reports:
        lines.append("no managed secrets on the selected targets")
    lines.append(f"Doctor: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped.")
    return redact("\n".join(lines)) + "\n"


def doctor_json(reports: list[SecretReport]) -> str:
    return redact(json.dumps([{"secret": r.secret, "target": r.target, "account": r.account,
                               "checks": [vars(c) for c in r.checks]} for r in reports], indent=2)) + "\n"
