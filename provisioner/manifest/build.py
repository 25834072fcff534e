"""Manifest building: validated documents -> the desired state (`Manifest` of targets and principals), with
defaults and profiles applied and object names parsed into `ObjectRef`s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

from provisioner.core import kinds, names, privileges
from provisioner.core.engine_facts import facts
from provisioner.core.kinds import Container, Family, Naming, ObjectKind
from provisioner.core.model import (
    AdminSource,
    Grant,
    Location,
    Manifest,
    MembershipOptions,
    ObjectRef,
    Owned,
    PasswordPolicy,
    Principal,
    RetireSettings,
    RotationSettings,
    SecretSettings,
    Target,
    Tls,
)
from provisioner.manifest.documents import Document, Item, items, merged_defaults, merged_profiles, merged_targets


def build_target(name: str, doc: Document, spec: dict[str, Any]) -> Target:
    admin = spec.get("admin") or {}
    tls = spec.get("tls")
    databases = spec.get("databases") or []
    database = spec.get("database") or (databases[0] if databases else None)
    return Target(
        name=name,
        engine=spec["engine"],
        admin=AdminSource(secret=admin.get("secret"), url_env=admin.get("url_env"),
                          iam_user=(admin.get("iam") or {}).get("user")),
        host=spec.get("host"),
        port=spec.get("port"),
        database=database,
        other_databases=tuple(d for d in databases if d != database),
        tls=Tls(mode=tls.get("mode", "prefer"), ca=tls.get("ca")) if tls else None,
        default_privileges_for=tuple(spec.get("default_privileges_for") or ()),
        resource_id=spec.get("resource_id"),
        public_revoke=_public(spec, name, doc, "revoke"),
        public_grants=_public(spec, name, doc, "grants"),
        location=doc.where(("targets", name)),
    )


def _public(spec: dict[str, Any], name: str, doc: Document, key: str) -> tuple[Grant, ...]:
    entries = (spec.get("public_privileges") or {}).get(key) or []
    return tuple(g for i, entry in enumerate(entries)
                 for g in parse_grant(spec["engine"], entry, doc.where(("targets", name, "public_privileges", key, i)),
                                      spec.get("database") or (spec.get("databases") or [None])[0]))


# The keys of a grant entry beside the one that names its objects.
GRANT_SETTINGS = ("privileges", "database", "expires", "except")


def object_key(entry: dict[str, Any]) -> str:
    """The key of a grant entry that names its objects (tables, schemas, ...)."""
    return next(k for k in entry if k not in GRANT_SETTINGS)


def timestamp(value: Any) -> datetime:
    """An `expires:` value: an ISO 8601 timestamp with its zone (`2027-03-31T00:00:00Z`). Raises ValueError."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed


def excluded(entry: dict[str, Any], ref: ObjectRef) -> tuple[str, ...]:
    """The `except:` patterns of a `schema.*` grant that fall in its schema, as object-name patterns."""
    found = []
    for text in entry.get("except") or ():
        schema, name = names.qualified(str(text), "object")
        if schema == ref.schema:
            found.append(name)
    return tuple(found)


def parse_grant(engine: str, entry: dict[str, Any], location: Location | None, default_database: str | None = None
                ) -> list[Grant]:
    """One manifest grant entry -> Grants on individual objects (or wildcards). Raises names.NameError_.
    `database:` naming the target's own database (`default_database`) is the same as none."""
    key = object_key(entry)
    kind = kinds.kind_of_key(key)
    family = facts(engine).family
    naming = kinds.spec(kind).written(family)
    database = entry.get("database") or ""
    if database == default_database or kinds.spec(kind).container == Container.SERVER:
        database = ""
    if facts(engine).database_patterns and naming != Naming.COLUMNS:
        expiry = timestamp(entry["expires"]) if entry.get("expires") is not None else None
        return [_database_level_grant(family, kind, naming, obj, entry["privileges"], location, expiry)
                for obj in entry[key]]
    privs = privileges.expand(family, kind, entry["privileges"])
    every = privileges.says_all(entry["privileges"])
    expires = timestamp(entry["expires"]) if entry.get("expires") is not None else None
    return [Grant(ref, privs, location, every, database, expires, excluded(entry, ref) if ref.is_wildcard else ())
            for ref in object_refs(kind, naming, entry[key])]


def object_refs(kind: ObjectKind, naming: Naming, objects: Any) -> list[ObjectRef]:
    """The objects of a grant entry, parsed the way the kind's names are written."""
    match naming:
        case Naming.COLUMNS:
            return [ObjectRef(kind, *names.qualified(table, "table"), column)
                    for table, columns in objects.items() for column in columns]
        case Naming.NAME:
            lower = kinds.spec(kind).lower_case_names
            return [ObjectRef(kind, "", obj.lower() if lower else obj) for obj in objects]
        case Naming.SIGNATURE:
            return [ObjectRef(kind, *names.function(obj)) for obj in objects]
        case Naming.ROUTINE:
            return [ObjectRef(kind, *names.routine(obj)) for obj in objects]
        case Naming.QUALIFIED:
            return [ObjectRef(kind, *names.qualified(obj, kind)) for obj in objects]
        case Naming.NONE | Naming.ACCOUNT:
            raise names.NameError_(f"{kind} objects cannot be named in the manifest")
        case _:
            assert_never(naming)


def parse_owns(value: Any, location: Location | None, default_database: str | None) -> list[Owned]:
    """`owns:` (a mapping, or a list of mappings each with its `database:`) -> the objects, parsed as grants name
    them. Raises names.NameError_."""
    found: list[Owned] = []
    for entry in value if isinstance(value, list) else [value] if value else []:
        database = entry.get("database") or ""
        if database == default_database:
            database = ""
        for key in kinds.owns_keys():
            if key in entry:
                kind = kinds.kind_of_key(key)
                refs = object_refs(kind, kinds.spec(kind).written(Family.POSTGRES), entry[key])
                found += [Owned(ref, database, location) for ref in refs]
    return found


def _database_level_grant(family: Family, kind: ObjectKind, naming: Naming, obj: str, privilege_names: list[str],
                          location: Location | None, expires: datetime | None) -> Grant:
    """MySQL/MariaDB: `databases: [db]` and `tables: [db.*]` are one database-level grant (mysql.db), which
    takes database-level privileges; `db.table` a table grant; `db.routine` a function or procedure grant."""
    if naming == Naming.NAME:
        schema, name = obj, "*"
    elif naming == Naming.ROUTINE:
        schema, name = names.routine(obj)
    else:
        schema, name = names.qualified(obj, "table")
    level = ObjectKind.DATABASE if name == "*" else kind
    ref = ObjectRef(ObjectKind.TABLE if level == ObjectKind.DATABASE else kind, schema, name)
    return Grant(ref, privileges.expand(family, level, privilege_names), location, expires=expires)


def _secret_settings(values: dict[str, Any]) -> SecretSettings:
    return SecretSettings(
        name=values.get("name", SecretSettings.name),
        kms_key=values.get("kms_key"),
        tags=tuple(sorted((values.get("tags") or {}).items())),
        recovery_days=values.get("recovery_days", 7),
        description=values.get("description"),
        replica_regions=tuple(sorted((str(region), str(key or "")) for region, key in
                                     (values.get("replica_regions") or {}).items())),
    )


def _rotation_settings(values: dict[str, Any]) -> RotationSettings:
    schedule = values.get("schedule")
    return RotationSettings(
        strategy=values.get("strategy", "single"),
        schedule=str(schedule) if schedule is not None else None,
        window=values.get("window"),
        function=values.get("function"),
        rotate_immediately=bool(values.get("rotate_immediately", False)),
    )


def membership_role(entry: str | dict[str, Any]) -> str:
    """The role of a `member_of` entry: a name, or {role: NAME, admin/inherit/set}."""
    return entry["role"] if isinstance(entry, dict) else entry


def setting_value(value: Any) -> str:
    """A setting as PostgreSQL stores it: booleans as on/off, numbers as written, lists as `a, b`."""
    if isinstance(value, bool):
        return "on" if value else "off"
    text = str(value)
    return ", ".join(part.strip() for part in text.split(",")) if "," in text else text


def role_settings(data: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """(database, parameter, value): parameters in lower case, as the server compares and stores them."""
    found = [("", str(k).lower(), setting_value(v)) for k, v in (data.get("settings") or {}).items()]
    for database, settings in (data.get("database_settings") or {}).items():
        found += [(database, str(k).lower(), setting_value(v)) for k, v in settings.items()]
    return tuple(sorted(found))


def host_part(data: dict[str, Any]) -> str:
    """A MySQL/MariaDB account's host part as the server stores it: host names in lower case (`LocalHost` is
    `localhost`), patterns and addresses as written."""
    return str(data.get("host", "%")).lower()


def build_principal(item: Item, target: Target, defaults: dict[str, Any], profiles: dict[str, Any]) -> Principal:
    data = item.data
    grants: list[Grant] = []
    for i, entry in enumerate(data.get("grants") or []):
        grants.extend(parse_grant(target.engine, entry, item.doc.where((*item.path, "grants", i)), target.database))
    if data.get("profile"):
        for entry in profiles.get(data["profile"], []):
            grants.extend(parse_grant(target.engine, entry, item.doc.where((*item.path, "profile")),
                                      target.database))

    def section(name: str) -> dict[str, Any]:
        return {**(defaults.get(name) or {}), **(data.get(name) or {})}

    policy = section("password")
    owns = tuple(parse_owns(data.get("owns"), item.doc.where((*item.path, "owns")), target.database))
    return Principal(
        name=data["name"],
        target=data["target"],
        login=item.login,
        grants=tuple(grants),
        member_of=tuple(membership_role(m) for m in data.get("member_of") or ()),
        membership_options=tuple((m["role"], MembershipOptions(bool(m.get("admin", False)), m.get("inherit"),
                                                               m.get("set")))
                                 for m in data.get("member_of") or () if isinstance(m, dict)),
        membership_expiry=tuple((m["role"], timestamp(m["expires"])) for m in data.get("member_of") or ()
                                if isinstance(m, dict) and m.get("expires") is not None),
        expires=timestamp(data["expires"]) if data.get("expires") is not None else None,
        connection_limit=data.get("connection_limit"),
        attributes=frozenset(data.get("attributes") or ()),
        settings=role_settings(data),
        description=data.get("description"),
        host=host_part(data),
        require_tls=bool(data.get("require_tls", False)),
        state=data.get("state", "present"),
        owns=owns,
        retire=RetireSettings(section("retire").get("reassign_owned_to"),
                              bool(section("retire").get("terminate_sessions", False))),
        adopted=bool(data.get("adopted", False)),
        secret=_secret_settings(section("secret")),
        auth=data.get("auth", "password"),
        rotation=(_rotation_settings(section("rotation")) if item.login and data.get("auth") != "iam"
                  else RotationSettings(strategy="none")),
        password=PasswordPolicy(
            length=policy.get("length", PasswordPolicy.length),
            exclude_characters=policy.get("exclude_characters", PasswordPolicy.exclude_characters),
        ),
        location=item.location,
    )


def build_manifest(documents: list[Document]) -> Manifest:
    defaults = merged_defaults(documents)
    profiles = merged_profiles(documents)
    targets = {name: build_target(name, doc, spec) for name, (doc, spec) in merged_targets(documents).items()}
    principals = tuple(
        build_principal(item, targets[item.data["target"]], defaults, profiles) for item in items(documents)
    )
    return Manifest(targets=targets, principals=principals, files=tuple(d.file for d in documents))
