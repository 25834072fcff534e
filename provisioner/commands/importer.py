"""`provisioner import`: manifest YAML for the accounts and group roles that exist on a target.

Grants are read with the same inspection as `plan` and written back in the manifest's terms: privileges on
every object of a schema, together with the matching default privileges, fold into `schema.*` (PostgreSQL);
database-level grants are `db.*` (MySQL/MariaDB); CONNECT and schema USAGE that other grants imply are left
implicit. What the manifest cannot express (global MySQL privileges, PostgreSQL role attributes) is reported,
so that the round trip — import, then plan — shows no changes for everything else.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from provisioner.core.conventions import parse_marker
from provisioner.core.diff import AclIndex
from provisioner.core.diff.creators import holders_of_create
from provisioner.core.engine_facts import RDS_IAM, is_reserved
from provisioner.core.model import DatabaseState, ObjectRef, Target, Traits
from provisioner.core.names import split_signature
from provisioner.core.privileges import COLUMN, DATABASE, FUNCTION, PROCEDURE, SCHEMA, SEQUENCE, TABLE

KIND_KEYS = {TABLE: "tables", SEQUENCE: "sequences", FUNCTION: "functions", PROCEDURE: "procedures", SCHEMA: "schemas",
             DATABASE: "databases", COLUMN: "columns"}
KIND_ORDER = (DATABASE, SCHEMA, TABLE, SEQUENCE, FUNCTION, PROCEDURE, COLUMN)
SECRET_SAFE = re.compile(r"^[A-Za-z0-9/_+=.@-]+$")
DEFAULTABLE = (TABLE, SEQUENCE, FUNCTION)


@dataclass
class Imported:
    roles: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def system_role(name: str, engine: str, admin: str) -> bool:
    return name == admin or is_reserved(name, engine)


def import_target(target: Target, db: DatabaseState, traits: Traits, adopt: bool,
                  others: Mapping[str, DatabaseState] | None = None) -> Imported:
    """The manifest entries of the roles `db` holds; `others`: the target's other databases (PostgreSQL), whose
    grants are written with `database:`."""
    result = Imported()
    used: set[str] = set()  # secret names given so far (the part after `{target}/`)
    index = AclIndex.build(db.acl_groups)
    elsewhere = {name: (other, AclIndex.build(other.acl_groups)) for name, other in (others or {}).items()}
    database = target.database
    for key, role in sorted(db.roles.items(), key=lambda item: (item[1].login, item[1].name)):
        if system_role(role.name, target.engine, db.admin_user):
            continue
        marker = parse_marker(role.comment)
        if marker and marker.target != target.name:
            continue
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
        grants = []
        for name, (other, other_index) in sorted(elsewhere.items()):
            grants += [{**g, "database": name} for g in _grants(key, other_index, other, target, traits, None)]
        reached = {database} | {g["database"] for g in grants}
        grants = _grants(key, index, db, target, traits, reached) + grants
        if grants:
            entry["grants"] = grants
        if role.login and not iam:
            name = unique_secret_name(role.name, role.host if traits.qualified_accounts else "", used)
            if name != role.name:
                entry["secret"] = {"name": "{target}/" + name}
        if adopt and not marker:
            entry["adopted"] = True
            if role.login and not iam:
                # No secret (so nothing to rotate) until `apply --create-secrets`; choose a strategy then.
                entry["rotation"] = {"strategy": "none"}
        (result.accounts if role.login else result.roles).append(entry)
        if role.attributes:
            entry["attributes"] = sorted(role.attributes)
            result.notes.append(f"{role.name} has {', '.join(sorted(role.attributes))}: written as `attributes:`, "
                                f"so apply keeps them; remove them from the file to take them away")
        held = {g for grp in db.acl_groups if grp.kind == "global" for g, p in grp.grants.items() if g == key and p}
        if held:
            result.notes.append(f"{role.name} holds global privileges (*.*): the manifest cannot express them, and "
                                f"apply revokes them")
    return result


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


def _covered_by_defaults(grantee: str, index: AclIndex, db: DatabaseState, target: Target
                         ) -> dict[tuple[str, str], set[str]]:
    """(kind, schema) -> the privileges `grantee` receives on the future objects of every creator of the schema
    (the schema owner and the holders of CREATE, as the diff counts them): what `schema.*` may stand for."""
    creators = holders_of_create(index.groups.get((SCHEMA, ""), []))
    by_creator: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for acl in db.default_acls:
        if grantee in acl.grants:
            by_creator[(acl.kind, acl.schema, acl.owner)] |= acl.grants[grantee]
    defaults: dict[tuple[str, str], set[str]] = {}
    for kind, schema, _ in by_creator:
        owner = db.schema_owners.get(schema)
        everyone = set(target.default_privileges_for) or ({owner} if owner else set()) | creators.get(schema, set())
        everyone -= {"PUBLIC", grantee}
        shared = [by_creator.get((kind, schema, creator), set()) for creator in sorted(everyone)]
        defaults[(kind, schema)] = set.intersection(*shared) if shared else set()
    return defaults


def _grants(grantee: str, index: AclIndex, db: DatabaseState, target: Target, traits: Traits,
            databases: set[str | None] | None) -> list[dict[str, Any]]:
    """The grant entries of `grantee` in one database; CONNECT on `databases` is left implied."""
    held: dict[ObjectRef, set[str]] = defaultdict(set)
    totals: dict[tuple[str, str], set[ObjectRef]] = defaultdict(set)
    for key in index.holders.get(grantee, set()):
        for group in index.groups.get(key, []):
            privs = group.grants.get(grantee)
            if privs:
                for ref in group.objects:
                    held[ref] |= privs
    for key, groups in index.groups.items():
        for group in groups:
            totals[key] |= group.objects
    defaults = _covered_by_defaults(grantee, index, db, target)

    entries: list[tuple[str, tuple[str, ...], str]] = []  # (kind, privileges, object text)
    columns: dict[tuple[str, ...], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    implied_schemas: set[str] = set()
    by_key: dict[tuple[str, str], dict[ObjectRef, set[str]]] = defaultdict(dict)
    for ref, held_privs in held.items():
        by_key[(ref.kind, ref.schema)][ref] = held_privs
    for (kind, schema), objects in by_key.items():
        if kind in (TABLE, SEQUENCE, FUNCTION, COLUMN):
            implied_schemas.add(schema)
        if kind == COLUMN:
            for ref, column_privs in sorted(objects.items()):
                columns[tuple(sorted(column_privs))][_qualified(ref.schema, ref.name)].append(ref.column)
            continue
        folded: set[str] = set()
        if traits.schema_wildcards and kind in DEFAULTABLE:
            everything = totals[(kind, schema)]
            for privilege in sorted({p for privs in objects.values() for p in privs}):
                on_all = all(privilege in objects.get(ref, ()) for ref in everything)
                if on_all and privilege in defaults.get((kind, schema), set()):
                    folded.add(privilege)
            if folded:
                entries.append((kind, tuple(sorted(folded)), f"{_quote(schema)}.*"))
        for ref, object_privs in sorted(objects.items()):
            rest = tuple(sorted(object_privs - folded))
            if rest:
                entries.append((kind, rest, _object_text(ref, traits)))
    if traits.implied_grants:
        entries = [e for e in entries if not _implied(e, implied_schemas, databases or set())]
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for kind, entry_privs, text in entries:
        grouped[(kind, entry_privs)].append(text)
    result: list[dict[str, Any]] = []
    for (kind, group_privs), names in sorted(grouped.items(), key=lambda i: (KIND_ORDER.index(i[0][0]), i[0][1])):
        result.append({"privileges": list(group_privs), KIND_KEYS[kind]: names})
    for column_set, tables in sorted(columns.items()):
        by_table = {t: sorted(cols) for t, cols in sorted(tables.items())}
        result.append({"privileges": list(column_set), "columns": by_table})
    return result


def _implied(entry: tuple[str, tuple[str, ...], str], schemas: set[str], databases: set[str | None]) -> bool:
    kind, privs, text = entry
    if kind == SCHEMA and privs == ("USAGE",) and text in {_quote(s) for s in schemas}:
        return True
    return kind == DATABASE and privs == ("CONNECT",) and text in {_quote(d) for d in databases if d}


def _object_text(ref: ObjectRef, traits: Traits) -> str:
    if ref.kind in (DATABASE, SCHEMA):
        return _quote(ref.name)
    if ref.kind == FUNCTION and traits.schema_wildcards:
        name, args = split_signature(ref.name)
        return f"{_quote(ref.schema)}.{_quote(name)}({args})"
    if ref.is_wildcard:
        return f"{_quote(ref.schema)}.*"
    return _qualified(ref.schema, ref.name)


def _qualified(schema: str, name: str) -> str:
    return f"{_quote(schema)}.{_quote(name)}"


def _quote(part: str) -> str:
    """Double-quote a name part only when the manifest's dotted syntax needs it."""
    if part and all(ch.isalnum() or ch in "_$%\\\\" for ch in part):
        return part
    return '"' + part.replace('"', '""') + '"'


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
