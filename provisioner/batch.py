"""Batching at execution: grants and revokes that differ only by grantee are sent as one statement naming every
grantee (`GRANT SELECT ON ALL TABLES IN SCHEMA app TO r1, r2, ...`).

The plan still shows each account's own statement; only the wire form changes. PostgreSQL rewrites each
object's ACL once per statement, so one statement for a thousand roles costs one pass over the tables instead
of a thousand — the difference between seconds and minutes on large schemas.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from . import changes as c

MERGEABLE = (c.GrantPrivileges, c.GrantDefaultPrivileges)  # and their Revoke subclasses


def _key(change: c.Change) -> tuple[object, ...]:
    if isinstance(change, c.GrantPrivileges):
        return (type(change), change.kind, change.schema, change.objects, change.privileges, change.all_in_schema)
    assert isinstance(change, c.GrantDefaultPrivileges)
    return (type(change), change.owner, change.schema, change.kind, change.privileges)


def batched(steps: list[c.Step]) -> Iterator[tuple[list[int], c.Change]]:
    """(indices of the plan steps, the change to execute) for the database steps, in plan order."""
    pending: dict[tuple[object, ...], list[int]] = {}
    run_type: type | None = None

    def flush() -> Iterator[tuple[list[int], c.Change]]:
        for indices in pending.values():
            first = steps[indices[0]].change
            others = tuple((steps[i].change.grantee, getattr(steps[i].change, "host", "%"))  # type: ignore[attr-defined]
                           for i in indices[1:])
            yield indices, replace(first, also=others) if others else first
        pending.clear()

    for index, step in enumerate(steps):
        change = step.change
        if not change.is_database:
            continue
        if isinstance(change, MERGEABLE):
            if run_type is not type(change):
                yield from flush()
                run_type = type(change)
            pending.setdefault(_key(change), []).append(index)
            continue
        yield from flush()
        run_type = None
        yield [index], change
    yield from flush()
