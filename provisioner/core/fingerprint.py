"""What a saved plan (`plan --out`) records of the state it was made against, so that `apply FILE` can tell whether
that state is still the one the plan was reviewed on: an inventory of every inspected item (a role, an object's
access list, a default-privilege entry, a schema's owner, a managed secret) with a short digest of each, and the
digest of the whole. Canonical: the same state gives the same digests in any process (sets sorted, mappings by
key), whatever order the server listed things in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from provisioner.core.conventions import parse_marker
from provisioner.core.model import AclGroup, CurrentState, DatabaseState, ObjectRef, SecretState
from provisioner.core.plan import Step

SHORT = 16  # hex digits kept per inventory item: enough to tell a change, small for 10,000s of items


def canonical(value: Any) -> Any:
    """A JSON-ready form of a value that does not depend on the order sets and dicts were filled in."""
    if isinstance(value, ObjectRef):
        return [value.kind.value, value.schema, value.name, value.column]
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def digest(value: Any) -> str:
    """sha256 of the canonical JSON of a value."""
    text = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def inventory(state: CurrentState, target: str, named: Collection[str] = (), secrets: Collection[str] = ()
              ) -> dict[str, str]:
    """Each inspected item by a name a person can read (`role app_rw`, `table app.films`, `secret films/app`,
    `in database billing: schema app`), with a short digest of what was read of it. Roles: those the manifest
    names (`named`, as the server keys them), those marked as the target's, and those the access lists, default
    privileges and schema owners mention — not a role of another team or target that nothing here refers to.
    Secrets: the target's (by their tags) and those the manifest's accounts would use (`secrets`, by name)."""
    items: dict[str, str] = {}
    if state.database is not None:
        relevant = _mentioned(state) | set(named) | {state.database.admin_user}
        for key, role in state.database.roles.items():
            marker = parse_marker(role.comment)
            if key in relevant or (marker is not None and marker.target == target):
                items[f"role {key}"] = _short(role)
        _objects(state.database, "", items)
    for name, other in sorted(state.others.items()):
        _objects(other, f"in database {name}: ", items)
    for name, secret in state.secrets.items():
        if secret.target == target or name in secrets:
            items[f"secret {name}"] = _short(_secret_facts(secret))
    return dict(sorted(items.items()))


def _mentioned(state: CurrentState) -> set[str]:
    found: set[str] = set()
    for db in [state.database, *state.others.values()]:
        if db is None:
            continue
        for group in db.acl_groups:
            found |= group.grantees() | {group.owner} | {g for by in group.foreign.values() for g in by}
        for entry in db.default_acls:
            found |= {entry.owner, *entry.grants}
        found |= set(db.schema_owners.values())
    return found


def _objects(db: DatabaseState, prefix: str, items: dict[str, str]) -> None:
    for group in db.acl_groups:
        acl = _short(_acl(group))  # once per group: a schema-wide grant is one group of thousands of objects
        for ref in group.objects:
            items[f"{prefix}{ref.kind.value} {ref}"] = acl
    for entry in db.default_acls:
        key = f"{prefix}default privileges of {entry.owner} on {entry.kind.value} in {entry.schema or 'every schema'}"
        items[key] = _short(entry.grants)
    for schema, owner in db.schema_owners.items():
        items[f"{prefix}owner of schema {schema}"] = _short(owner)
    for ref, why in db.ungrantable.items():
        items[f"{prefix}{ref.kind.value} {ref} (not grantable)"] = _short(why)


def _acl(group: AclGroup) -> Any:
    return [group.grants, group.grant_options, group.foreign, group.owner]


def _secret_facts(secret: SecretState) -> Any:
    """What the diff reads of a secret; version ids are left out (they change when anything is written), the
    labels and whether a change was left pending are kept."""
    return [secret.arn, secret.target, secret.account, secret.tags, secret.kms_key, secret.description,
            sorted(label for labels in secret.stages.values() for label in labels), secret.fields,
            secret.has_password, secret.problem, secret.left_pending is not None, secret.rotation_enabled,
            secret.rotation_lambda, secret.rotation_rules, secret.deleted, secret.replicas]


def _short(value: Any) -> str:
    return digest(value)[:SHORT]


def first_difference(saved: Mapping[str, str], now: Mapping[str, str]) -> str | None:
    """The first item (in name order) that changed, appeared or went, described; None when none did."""
    for key in sorted(set(saved) | set(now)):
        if key not in now:
            return f"{key} is gone"
        if key not in saved:
            return f"{key} appeared"
        if saved[key] != now[key]:
            return f"{key} changed"
    return None


def step_facts(steps: Iterable[Step]) -> list[Any]:
    """A plan's steps as (action, type, statements, the change itself), canonical: what two plans must share to
    be the same plan."""
    return [[s.change.action, s.change.type_name, list(s.lines), canonical(s.change)] for s in steps]


def steps_digest(steps: Iterable[Step]) -> str:
    """The digest of a plan's steps: what `apply FILE` must find again under the lock to apply."""
    return digest(step_facts(steps))
