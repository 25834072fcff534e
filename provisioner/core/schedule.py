"""Rotation schedules: parse and validate Secrets Manager schedule expressions, build RotationRules, and
compare a desired schedule with what the service reports — semantically, so `rate(30 days)` equals an
AutomaticallyAfterDays of 30 and no plan ever shows a perpetual rotation diff.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from provisioner.core.model import RotationSettings

MIN_INTERVAL_HOURS = 4
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_WINDOW = re.compile(r"^(\d+)h$")


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    """A normalised schedule: every N days, every N hours, or a cron expression (AWS's 6 fields)."""

    days: int | None = None
    hours: int | None = None
    cron: str | None = None

    @property
    def expression(self) -> str:
        if self.cron:
            return f"cron({self.cron})"
        if self.days:
            return f"rate({self.days} day{'s' if self.days != 1 else ''})"
        return f"rate({self.hours} hours)"


def parse(text: str | int) -> Schedule:
    """Parse `30`, `rate(30 days)`, `rate(12 hours)` or `cron(0 4 1 * ? *)`; ScheduleError if invalid."""
    value = str(text).strip()
    if value.isdigit():
        days = int(value)
        if not 1 <= days <= 1000:
            raise ScheduleError(f"a day count must be between 1 and 1000, not {days}")
        return Schedule(days=days)
    match = _RATE.match(value)
    if match:
        count, unit = int(match.group(1)), match.group(2)
        if unit.startswith("day"):
            if not 1 <= count <= 1000:
                raise ScheduleError(f"rate({count} days): AWS allows 1 to 1000 days")
            return Schedule(days=count)
        if count < MIN_INTERVAL_HOURS:
            raise ScheduleError(f"rate({count} hours) is shorter than AWS's minimum interval of 4 hours")
        if count % 24 == 0:
            return Schedule(days=count // 24)
        return Schedule(hours=count)
    match = _CRON.match(value)
    if match:
        fields = match.group(1).split()
        if len(fields) != 6:
            raise ScheduleError("a cron expression has 6 fields: minutes hours day-of-month month day-of-week year")
        if fields[0] != "0":
            raise ScheduleError(f"cron minutes must be 0 for Secrets Manager, not {fields[0]!r}")
        _check_cron_hours(fields[1])
        if fields[2] != "?" and fields[4] != "?":
            raise ScheduleError("give either day-of-month or day-of-week in cron; the other must be '?'")
        return Schedule(cron=" ".join(fields))
    raise ScheduleError(f"{value!r} is not rate(N days), rate(N hours), cron(...) or a number of days")


def _check_cron_hours(field: str) -> None:
    hours = _expand_hours(field)
    if len(hours) > 1:
        ordered = sorted(hours)
        gaps = [b - a for a, b in itertools.pairwise(ordered)] + [24 - ordered[-1] + ordered[0]]
        if min(gaps) < MIN_INTERVAL_HOURS:
            raise ScheduleError(f"cron hours {field!r} rotate more often than AWS's minimum interval of 4 hours")


def _expand_hours(field: str) -> set[int]:
    hours: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"invalid cron hour step in {field!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = 0, 23
        elif "-" in part:
            low, high = part.split("-", 1)
            if not (low.isdigit() and high.isdigit()):
                raise ScheduleError(f"invalid cron hours {field!r}")
            start, end = int(low), int(high)
        elif part.isdigit():
            start = end = int(part)
            if step != 1:
                end = 23
        else:
            raise ScheduleError(f"invalid cron hours {field!r}")
        if not 0 <= start <= end <= 23:
            raise ScheduleError(f"cron hours must be between 0 and 23 in {field!r}")
        hours.update(range(start, end + 1, step))
    return hours


def window_hours(window: str | None) -> int | None:
    if window is None:
        return None
    match = _WINDOW.match(window)
    if not match or not 1 <= int(match.group(1)) <= 24:
        raise ScheduleError(f"window {window!r} must be 1h to 24h")
    return int(match.group(1))


def rotation_rules(settings: RotationSettings) -> dict[str, object]:
    """The RotationRules of a RotateSecret request."""
    rules: dict[str, object] = {}
    if settings.schedule is not None:
        rules["ScheduleExpression"] = parse(settings.schedule).expression
    if settings.window:
        rules["Duration"] = settings.window
    return rules


def fingerprint(settings: RotationSettings) -> str:
    """A short digest of the rotation configuration, kept in a tag on the secret (see `in_sync`)."""
    canonical = "|".join([settings.function or "", rotation_rules_text(settings), str(settings.rotate_immediately)])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def rotation_rules_text(settings: RotationSettings) -> str:
    rules = rotation_rules(settings)
    return " ".join(f"{k}={v}" for k, v in sorted(rules.items()))


def reported_schedule(rules: Mapping[str, object]) -> Schedule | None:
    expression = rules.get("ScheduleExpression")
    if expression:
        try:
            return parse(str(expression))
        except ScheduleError:
            return Schedule(cron=str(expression))
    days = rules.get("AutomaticallyAfterDays")
    if isinstance(days, int) and days > 0:
        return Schedule(days=days)
    return None


def in_sync(settings: RotationSettings, enabled: bool, function: str | None, rules: Mapping[str, object],
            recorded: str | None) -> bool:
    """Whether the secret's rotation matches the manifest.

    What the service reports wins where it reports it. Where it reports nothing (moto drops ScheduleExpression
    and Duration and then says rotation is disabled), the fingerprint tag recorded at the last configuration
    stands in; a secret whose rotation was cancelled on AWS keeps its rules and shows as disabled, which is
    drift.
    """
    wanted = settings.function is not None and settings.strategy != "none"
    if not wanted:
        return not enabled and recorded is None
    if function and function != settings.function:
        return False
    reported = reported_schedule(rules)
    desired = parse(settings.schedule) if settings.schedule is not None else None
    if reported is not None and desired is not None and reported != desired:
        return False
    duration = rules.get("Duration")
    if duration and settings.window and duration != settings.window:
        return False
    if enabled and function == settings.function and reported is not None:
        return not settings.window or duration == settings.window or recorded == fingerprint(settings)
    return recorded == fingerprint(settings) and reported is None
