"""Rules about one account or role entry: its name, its memberships, the PostgreSQL-only keys (attributes,
settings, retire) and, across entries, an entry declared twice, derived names taken, one role under two targets
of one server."""

from __future__ import annotations

from typing import Any

from provisioner.core import conventions
from provisioner.core.engine_facts import ENGINES, EngineFacts, is_reserved
from provisioner.core.model import Principal, RotationSettings
from provisioner.errors import Problem
from provisioner.manifest.build import host_part, membership_role
from provisioner.manifest.documents import Item
from provisioner.manifest.validation.rules.registry import Known, rule
from provisioner.manifest.validation.words import item_label, suggest


@rule("entry", "entry-name")
def name_rules(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    name = item.data["name"]
    where = item.doc.where((*item.path, "name"))
    problems = []
    if is_reserved(name, engine.name):
        problems.append(Problem(where, f"{item_label(item)} is a system or reserved account name",
                                "system and admin accounts are never managed; choose another name"))
    if engine.basic_plane_only:
        beyond = [ch for ch in name + str(item.data.get("host", "")) if ord(ch) > 0xFFFF]
        if beyond:
            problems.append(Problem(where, f"{item_label(item)} contains {beyond[0]!r}: MySQL and MariaDB keep "
                                           f"account names in utf8mb3, which has no characters beyond U+FFFF",
                                    "use characters of the Basic Multilingual Plane"))
    length = engine.name_length(name)
    if length > engine.name_limit:
        problems.append(Problem(where, f"{item_label(item)} is {length} long; {engine.name} allows at most "
                                       f"{engine.name_limit}", "shorten the name"))
    return problems


@rule("entry", "entry-engine-keys")
def engine_keys(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    """Keys only some engines understand: `attributes`, `retire`, `host`."""
    data, doc = item.data, item.doc
    problems = []
    if not engine.role_attributes and data.get("attributes"):
        problems.append(Problem(doc.where((*item.path, "attributes"), key=True),
                                "`attributes` are PostgreSQL role attributes; MySQL/MariaDB have none",
                                "remove `attributes` (grant global privileges outside the manifest)"))
    if not engine.reassign_owned and data.get("retire"):
        problems.append(Problem(doc.where((*item.path, "retire"), key=True),
                                "`retire` reassigns the objects a PostgreSQL role owns; MySQL/MariaDB accounts own "
                                "none (DROP USER takes their grants)", "remove `retire`"))
    if not engine.host_part and "host" in data and item.login:
        problems.append(Problem(doc.where((*item.path, "host"), key=True),
                                "`host` is the MySQL/MariaDB host part; PostgreSQL accounts have none",
                                "remove `host` (use pg_hba.conf to restrict where a role connects from)"))
    return problems


@rule("entry", "entry-settings")
def settings(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    data, doc = item.data, item.doc
    problems = []
    for key in ("settings", "database_settings"):
        if data.get(key) and not engine.role_settings:
            problems.append(Problem(doc.where((*item.path, key), key=True),
                                    f"`{key}` are PostgreSQL role settings (ALTER ROLE ... SET); MySQL/MariaDB "
                                    f"accounts have none", f"remove `{key}` (set session variables in the "
                                                           f"application or the server's parameter group)"))
    scopes = [((*item.path, "settings"), data.get("settings") or {})]
    scopes += [((*item.path, "database_settings", db), s) for db, s in (data.get("database_settings") or {}).items()]
    for path, found in scopes:
        problems += _setting_names(item, path, found, engine)
    return problems


def _setting_names(item: Item, path: tuple[Any, ...], found: dict[str, Any], engine: EngineFacts) -> list[Problem]:
    """Setting names compare case-insensitively, as the server's do; `role` is the tool's own."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for name in found:
        lowered = str(name).lower()
        if engine.group_role_for_pairs and lowered == "role":
            problems.append(Problem(item.doc.where((*path, name), key=True),
                                    f"the `{name}` setting is the tool's own (the session role of alternating "
                                    f"accounts): setting names compare case-insensitively, as the server's do",
                                    "remove it; alternating accounts switch to their group role"))
        elif lowered in seen:
            problems.append(Problem(item.doc.where((*path, name), key=True),
                                    f"setting {name!r} is {seen[lowered]!r} again: the server compares setting "
                                    f"names case-insensitively", "keep one of the two"))
        seen.setdefault(lowered, str(name))
    return problems


@rule("entry", "entry-memberships")
def memberships(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    data, doc = item.data, item.doc
    target = data["target"]
    problems = []
    for i, entry in enumerate(data.get("member_of") or []):
        if entry is None:
            continue  # refused by the schema, reported there
        role = membership_role(entry)
        if isinstance(entry, dict) and not engine.membership_options and set(entry) - {"role", "expires"}:
            problems.append(Problem(doc.where((*item.path, "member_of", i)),
                                    f"{item_label(item)}: membership options (admin, inherit, set) are PostgreSQL's "
                                    f"here", "write the role's name alone, or {role: NAME, expires: TIMESTAMP}"))
        roles = known.roles_by_target.get(target, set())
        predefined = bool(engine.predefined_role_prefix) and role.startswith(engine.predefined_role_prefix)
        if role not in roles and not predefined:
            problems.append(Problem(doc.where((*item.path, "member_of", i)),
                                    f"{item_label(item)} is a member of {role!r}, which is not a role of target "
                                    f"{target!r}", f"{suggest(role, roles)}declare it under `roles:` with "
                                                   f"`target: {target}`"))
    if engine.one_default_role and item.login and len(data.get("member_of") or []) > 1:
        problems.append(Problem(doc.where((*item.path, "member_of")),
                                f"{item_label(item)}: {engine.label} activates only one default role at login",
                                "give the account one role; grant the other roles to that role"))
    return problems


@rule("entry", "entry-role-is-not-an-account")
def role_and_account(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    if item.login or item.data["name"] not in known.accounts_by_target.get(item.data["target"], set()):
        return []
    return [Problem(item.doc.where(item.path), f"role {item.data['name']!r} is also declared as an account",
                    "give the group role and the account different names")]


@rule("manifest", "entries-declared-once")
def declared_once(known: Known) -> list[Problem]:
    seen: dict[tuple[str, str, str], Item] = {}
    problems = []
    for item in known.entries:
        engine = known.engine_of(item)
        if engine is None:
            continue
        key = (item.data["target"], item.data["name"], host_part(item.data) if engine.host_part else "")
        first = seen.setdefault(key, item)
        if first is not item:
            problems.append(Problem(item.doc.where(item.path),
                                    f"{item_label(item)} is declared twice (first at {first.location})",
                                    "keep one entry per account and target; merge their grants"))
    return problems


def probe(name: str) -> Principal:
    """A stand-in alternating account, to ask `conventions` which names the tool would derive from `name`."""
    return Principal(name=name, target="", login=True, rotation=RotationSettings(strategy="alternating"))


@rule("manifest", "derived-names-free")
def derived_names(known: Known) -> list[Problem]:
    """A name the tool derives (an alternating account's `_clone` user, its PostgreSQL `_group` role) must not be
    declared by another entry of the same target: that would be one role with two owners."""
    derived: dict[tuple[str, str], Item] = {}
    for item in known.entries:
        engine = known.engine_of(item)
        strategy = known.section(item, "rotation").get("strategy", "single")
        if engine is None or not item.login or strategy != "alternating" or item.data.get("auth") == "iam":
            continue
        for name in conventions.derived_names(probe(item.data["name"]), engine.name):
            derived[(item.data["target"], name)] = item
    problems = []
    for item in known.entries:
        owner = derived.get((item.data["target"], item.data["name"]))
        if owner is not None and owner is not item:
            problems.append(Problem(
                item.doc.where((*item.path, "name")),
                f"{item_label(item)} has the name provisioner derives for {item_label(owner)} (alternating "
                f"rotation, declared at {owner.location})",
                f"rename it, or give {owner.data['name']!r} another strategy: {item.data['name']!r} would be one "
                f"role with two owners"))
    return problems


@rule("manifest", "one-server-one-owner")
def same_server(known: Known) -> list[Problem]:
    """Roles are server-wide: one name under two targets with the same host and port is one role with two
    owners (the targets' databases may differ). `plan` also compares the servers' own identities."""
    first: dict[tuple[str, str, int, str, str], Item] = {}
    problems = []
    for item in known.entries:
        target = known.targets.get(item.data["target"])
        if target is None or not target[1].get("host"):
            continue
        spec = target[1]
        engine = ENGINES[spec["engine"]]
        key = (engine.family, str(spec["host"]).lower(), int(spec.get("port") or engine.default_port),
               item.data["name"], host_part(item.data) if engine.host_part else "")
        other = first.setdefault(key, item)
        if other is not item and other.data["target"] != item.data["target"]:
            problems.append(Problem(
                item.doc.where((*item.path, "name")),
                f"{item_label(item)} is also declared under target {other.data['target']!r} (at {other.location}), "
                f"and both targets are {key[1]}:{key[2]}: roles belong to the server, not to a database",
                "declare it under one target of that server"))
    return problems
