"""Expiry (SPEC 11): from its `expires:` instant an item is treated as absent — an account as `state: absent`,
a membership or a grant as not declared — so the ordinary diff revokes or drops it, or never creates it. The
plan says what has expired (so the file can be cleaned up) and what expires within a week."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from provisioner.core.model import Grant, Principal

SOON = timedelta(days=7)


def as_of(principals: list[Principal], now: datetime | None) -> tuple[list[Principal], list[str]]:
    """The principals as they stand at `now` (None: no expiry is applied), and a note for each item that has
    expired or expires within SOON."""
    if now is None:
        return principals, []
    notes: list[str] = []
    return [_principal_as_of(p, now, notes) for p in principals], notes


def _when(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _principal_as_of(p: Principal, now: datetime, notes: list[str]) -> Principal:
    if p.state != "present":
        return p
    if p.expires is not None and p.expires <= now:
        notes.append(f"{p.kind} {p.name} expired at {_when(p.expires)}: treated as absent (dropped, its "
                     f"secret scheduled for deletion); remove it from the file")
        return replace(p, state="absent", expires=None)
    _soon(p.expires, now, f"{p.kind} {p.name}", notes)
    expired_roles = set()
    for role, moment in p.membership_expiry:
        if moment <= now:
            expired_roles.add(role)
            notes.append(f"{p.name}: membership in {role} expired at {_when(moment)}: revoked; remove it from "
                         f"the file")
        else:
            _soon(moment, now, f"{p.name}: membership in {role}", notes)
    grants = []
    for grant in p.grants:
        if grant.expires is not None and grant.expires <= now:
            notes.append(f"{p.name}: {_grant(grant)} expired at {_when(grant.expires)}: revoked; remove it from "
                         f"the file")
            continue
        _soon(grant.expires, now, f"{p.name}: {_grant(grant)}", notes)
        grants.append(grant)
    if not expired_roles and len(grants) == len(p.grants):
        return p
    return replace(p, grants=tuple(grants), member_of=tuple(r for r in p.member_of if r not in expired_roles),
                   membership_options=tuple((r, o) for r, o in p.membership_options if r not in expired_roles))


def _soon(moment: datetime | None, now: datetime, what: str, notes: list[str]) -> None:
    if moment is not None and moment - now <= SOON:
        left = moment - now
        notes.append(f"{what} expires at {_when(moment)} (in {_duration(left)})")


def _duration(left: timedelta) -> str:
    if left.days >= 1:
        return f"{left.days} day{'s' if left.days > 1 else ''}"
    hours = left.seconds // 3600
    return f"{hours} hour{'s' if hours != 1 else ''}" if hours else f"{max(left.seconds // 60, 0)} min"


def _grant(grant: Grant) -> str:
    privileges = ", ".join(sorted(grant.privileges)) or "ALL"
    return f"{privileges} on {grant.obj.kind} {grant.obj}"


def expired_additions(before: list[Principal], after: list[Principal], now: datetime | None) -> list[str]:
    """What a change from `before` to `after` adds that has already expired at `now`: an account, a membership or
    a grant — the likely typo in a pull request (a date in the past), refused by `diff`."""
    if now is None:
        return []
    old = {p.name: p for p in before}
    found = []
    for p in after:
        was = old.get(p.name)
        if p.expires is not None and p.expires <= now and (was is None or was.state != "present"):
            found.append(f"{p.kind} {p.name} is added with `expires: {_when(p.expires)}`, which is past")
        had_roles = set(was.member_of) if was else set()
        for role, moment in p.membership_expiry:
            if moment <= now and role not in had_roles:
                found.append(f"{p.name}: the membership in {role} is added with `expires: {_when(moment)}`, "
                             f"which is past")
        had = {_identity(g) for g in was.grants} if was else set()
        for grant in p.grants:
            if grant.expires is not None and grant.expires <= now and _identity(grant) not in had:
                found.append(f"{p.name}: {_grant(grant)} is added with `expires: {_when(grant.expires)}`, "
                             f"which is past")
    return found


def _identity(grant: Grant) -> tuple[object, ...]:
    return (grant.obj, grant.database, grant.privileges)
