"""`provisioner import`: manifest YAML for the accounts and group roles that exist on a target.

Grants are read with the same inspection as `plan` and written back in the manifest's terms (`import_grants`).
What the manifest cannot express (global MySQL privileges) is reported, so that the round trip — import, then
plan — shows no changes for everything else. Secret names are made unique (SPEC 8: one secret, one account).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from provisioner.commands.import_grants import Place, grant_entries
from provisioner.core.conventions import Marker, parse_marker
from provisioner.core.diff import AclIndex
from provisioner.core.engine_facts import RDS_IAM, is_reserved
from provisioner.core.kinds import spec
from provisioner.core.model import DatabaseState, Manifest, RoleState, Target, Traits
from provisioner.errors import ProvisionerError
from provisioner.pipeline.connect import connect
from provisioner.secrets.store import SecretStore

SECRET_SAFE = re.compile(r"^[A-Za-z0-9/_+=.@-]+$")


@dataclass
class Imported:
    roles: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Login accounts nobody manages yet: without --adopt, apply gives each a new password.
    taken_over: list[str] = field(default_factory=list)


def system_role(name: str, engine: str, admin: str) -> bool:
    return name == admin or is_reserved(name, engine)


def import_target(target: Target, db: DatabaseState, traits: Traits, adopt: bool,
                  others: Mapping[str, DatabaseState] | None = None) -> Imported:
    """The manifest entries of the roles `db` holds; `others`: the target's other databases (PostgreSQL), whose
    grants are written with `database:`."""
    result = Imported()
    used: set[str] = set()  # secret names given so far (the part after `{target}/`)
    here = Place(target, db, AclIndex.build(db.acl_groups), traits)
    elsewhere = {name: Place(target, other, AclIndex.build(other.acl_groups), traits)
                 for name, other in sorted((others or {}).items())}
    for key, role in sorted(db.roles.items(), key=lambda item: (item[1].login, item[1].name)):
        marker = parse_marker(role.comment)
        if system_role(role.name, target.engine, db.admin_user) or (marker and marker.target != target.name):
            continue
        entry = _entry(role, marker, target, traits)
        grants = _all_grants(key, target, here, elsewhere)
        if grants:
            entry["grants"] = grants
        owns = [] if role.login else owned_schemas(key, db, others or {})
        if owns:
            entry["owns"] = owns[0] if len(owns) == 1 else owns
        if role.login and role.auth != "iam":
            entry.update(_secret_entries(role, marker, traits, adopt, used))
            if not marker and not adopt:
                result.taken_over.append(role.name)
        elif adopt and not marker:
            entry["adopted"] = True
        (result.accounts if role.login else result.roles).append(entry)
        result.notes += _notes(role, key, db)
        if role.attributes:
            entry["attributes"] = sorted(role.attributes)
    return result


def _entry(role: RoleState, marker: Marker | None, target: Target, traits: Traits) -> dict[str, Any]:
    """The entry's own keys: name, host part, description, limits, authentication, memberships, settings."""
    entry: dict[str, Any] = {"name": role.name, "target": target.name}
    if role.login and traits.qualified_accounts and role.host != "%":
        entry["host"] = role.host
    description = marker.description if marker else role.comment
    if description:
        entry["description"] = description
    if role.login and role.connection_limit:
        entry["connection_limit"] = role.connection_limit
    if role.require_tls:
        entry["require_tls"] = True
    iam = role.login and role.auth == "iam"
    if iam:
        entry["auth"] = "iam"  # RDS IAM authentication, as inspection found it
    member_of = sorted(role.member_of - {RDS_IAM}) if iam else sorted(role.member_of)
    if member_of:
        entry["member_of"] = [_membership(r, role.membership_options.get(r, {})) for r in member_of]
    entry.update(_settings_entries(role.settings))
    return entry


def _secret_entries(role: RoleState, marker: Marker | None, traits: Traits, adopt: bool, used: set[str]
                    ) -> dict[str, Any]:
    """A login's secret name when its own would collide or be refused, and what adopting it means."""
    entries: dict[str, Any] = {}
    name = unique_secret_name(role.name, role.host if traits.qualified_accounts else "", used)
    if name != role.name:
        entries["secret"] = {"name": "{target}/" + name}
    if adopt and not marker:
        # No secret (so nothing to rotate) until `apply --create-secrets`; choose a strategy then.
        entries.update(adopted=True, rotation={"strategy": "none"})
    return entries


def owned_schemas(key: str, db: DatabaseState, others: Mapping[str, DatabaseState]) -> list[dict[str, Any]]:
    """`owns:` of a group role: the schemas it owns, in the connected database and (with `database:`) in the
    target's other databases (what else it owns stays as it is: `owns:` is authoritative only for what it names)."""
    found = []
    for database, state in [("", db), *sorted(others.items())]:
        schemas = sorted(schema for schema, owner in state.schema_owners.items() if owner == key)
        if schemas:
            found.append({**({"database": database} if database else {}), "schemas": schemas})
    return found


def _all_grants(key: str, target: Target, here: Place, elsewhere: Mapping[str, Place]) -> list[dict[str, Any]]:
    """The role's grants in the connected database, then in each other database (with `database:`)."""
    others = [{**g, "database": name} for name, place in elsewhere.items() for g in grant_entries(key, place, None)]
    reached = {target.database} | {g["database"] for g in others}
    return grant_entries(key, here, reached) + others


def _notes(role: RoleState, key: str, db: DatabaseState) -> list[str]:
    notes = []
    if role.attributes:
        notes.append(f"{role.name} has {', '.join(sorted(role.attributes))}: written as `attributes:`, so apply "
                     f"keeps them; remove them from the file to take them away")
    # What no manifest key declares (MySQL global privileges, PROXY, PostgreSQL large objects): apply revokes it.
    undeclarable: dict[str, set[str]] = {}
    for grp in db.acl_groups:
        if spec(grp.kind).key is None and grp.grants.get(key):
            undeclarable.setdefault(grp.kind.value, set()).update(str(ref) for ref in grp.objects)
    for kind, objects in sorted(undeclarable.items()):
        on = ("global privileges (*.*)" if objects == {"*"} else
              f"{kind} privileges on {', '.join(sorted(objects)[:3])}{' ...' if len(objects) > 3 else ''}")
        notes.append(f"{role.name} holds {on}: the manifest cannot express them, and apply revokes them")
    return notes


def unique_secret_name(account: str, host: str, used: set[str]) -> str:
    """The part after `{target}/` of an account's secret name: its own name where Secrets Manager accepts it and
    no other imported account has it (SPEC 8: one secret, one account), else a sanitised name made unique with
    the host part and a short digest of the account (`#z`, `&z` and `!z` would all be `-z`)."""
    name = account
    if not SECRET_SAFE.match(name) or name in used:
        name = re.sub(r"[^A-Za-z0-9/_+=.@-]", "-", account)
        if account in used and host and host != "%":
            name += "@" + re.sub(r"[^A-Za-z0-9/_+=.@-]", "-", host)
        if name in used:
            name = f"{name}-{hashlib.sha256(f'{account}@{host}'.encode()).hexdigest()[:8]}"
    used.add(name)
    return name


def _membership(role: str, options: Mapping[str, bool]) -> str | dict[str, Any]:
    """A role name, or {role, admin/inherit/set} where the membership differs from the default."""
    odd = {k: v for k, v in options.items() if v != (k != "admin")}
    return {"role": role, **odd} if odd else role


def _settings_entries(settings: tuple[tuple[str, str, str], ...]) -> dict[str, Any]:
    """`settings:` and `database_settings:` as the role has them (authoritative in the manifest)."""
    everywhere = {name: value for db, name, value in settings if not db}
    by_database: dict[str, dict[str, str]] = defaultdict(dict)
    for db, name, value in settings:
        if db:
            by_database[db][name] = value
    entries: dict[str, Any] = {}
    if everywhere:
        entries["settings"] = everywhere
    if by_database:
        entries["database_settings"] = dict(sorted(by_database.items()))
    return entries


def to_yaml(imported: Imported, target: Target) -> str:
    class Dumper(yaml.SafeDumper):
        pass

    def flow_grants(dumper: yaml.SafeDumper, data: dict[str, Any]) -> Any:
        flow = "privileges" in data
        return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)

    Dumper.add_representer(dict, flow_grants)
    document: dict[str, Any] = {"version": 1}
    if imported.roles:
        document["roles"] = imported.roles
    if imported.accounts:
        document["accounts"] = imported.accounts
    header = (f"# Imported from target {target.name} ({target.engine}) by `provisioner import`.\n"
              f"# Keep it beside the manifest that defines target {target.name}; review, then commit.\n")
    notes = "".join(f"# note: {n}\n" for n in imported.notes)
    body = yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=120)
    return header + notes + body


def select_one_target(manifest: Manifest, names: list[str] | None, command: str) -> Target:
    if not names or len(names) != 1:
        raise ProvisionerError(f"{command} needs exactly one --target", f"e.g. provisioner {command} --target films")
    target = manifest.targets.get(names[0])
    if target is None:
        raise ProvisionerError(f"unknown target {names[0]!r}",
                               f"targets in the manifest: {', '.join(sorted(manifest.targets)) or 'none'}")
    return target


def import_live(manifest: Manifest, names: list[str] | None, store: SecretStore, adopt: bool
                ) -> tuple[Imported, Target]:
    """Inspect one target (each database it manages) and import what it holds."""
    target = select_one_target(manifest, names, "import")
    conn = connect(target, store)
    try:
        state = conn.engine.inspect(conn.session)
        others = {name: conn.engine.inspect_other(conn.session_for(name), state) for name in target.other_databases}
        return import_target(target, state, conn.engine.traits_for(state.server_version), adopt, others), target
    finally:
        conn.close()
