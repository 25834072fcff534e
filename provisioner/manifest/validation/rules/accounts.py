"""Rules about login accounts: the secret name template, rotation (schedule, window, function, what alternating
needs), IAM authentication, and no two accounts sharing one secret (SPEC 8)."""

from __future__ import annotations

import re
from typing import Any

from provisioner.core import conventions, schedule
from provisioner.core.engine_facts import EngineFacts
from provisioner.errors import Problem
from provisioner.manifest.build import host_part
from provisioner.manifest.documents import Item
from provisioner.manifest.validation.rules.principals import probe
from provisioner.manifest.validation.rules.registry import Known, rule
from provisioner.manifest.validation.words import item_label

SECRET_PLACEHOLDERS = set(conventions.SECRET_PLACEHOLDERS)
SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


@rule("entry", "account-secret-name")
def secret_name(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    if not item.login:
        return []
    data, doc = item.data, item.doc
    template = known.section(item, "secret").get("name", "{target}/{account}")
    unknown = set(re.findall(r"{([^{}]*)}", template)) - SECRET_PLACEHOLDERS
    if unknown:
        return [Problem(doc.where((*item.path, "secret", "name")) if "name" in (data.get("secret") or {})
                        else doc.where(item.path),
                        f"secret name template {template!r} uses unknown placeholder(s) {', '.join(sorted(unknown))}",
                        "use {target}, {account}, {engine} and {database}")]
    rendered = template.format(target=data["target"], account=data["name"], engine=engine.name,
                               database=known.target_of(item).get("database") or "")
    if not SECRET_NAME.match(rendered):
        return [Problem(doc.where(item.path),
                        f"secret name {rendered!r} for {item_label(item)} is not a valid Secrets Manager name",
                        "secret names use letters, digits and /_+=.@- (at most 512); set `secret.name` or rename")]
    return []


@rule("entry", "account-rotation")
def rotation(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    if not item.login or item.data.get("auth") == "iam":  # no password: nothing rotates
        return []
    settings = known.section(item, "rotation")
    where = item.doc.where((*item.path, "rotation")) if "rotation" in item.data else item.doc.where(item.path)
    problems = _schedule_problems(item, where, settings)
    if settings.get("strategy", "single") == "alternating":
        problems += _alternating_problems(item, where, engine, known.target_of(item))
    return problems


def _schedule_problems(item: Item, where: Any, settings: dict[str, Any]) -> list[Problem]:
    problems = []
    if settings.get("schedule") is not None:
        try:
            schedule.parse(settings["schedule"])
        except schedule.ScheduleError as exc:
            problems.append(Problem(where, f"{item_label(item)}: rotation schedule: {exc}",
                                    "write rate(N days), rate(N hours) with N >= 4, cron(0 H DoM Mon DoW Y) or a "
                                    "number of days"))
    if settings.get("window") is not None:
        try:
            schedule.window_hours(settings["window"])
        except schedule.ScheduleError as exc:
            problems.append(Problem(where, f"{item_label(item)}: rotation window: {exc}", "e.g. window: 4h"))
    if settings.get("function") and settings.get("schedule") is None and settings.get("strategy") != "none":
        problems.append(Problem(where, f"{item_label(item)} has a rotation function but no schedule",
                                "add rotation.schedule, e.g. rate(30 days)"))
    return problems


def _alternating_problems(item: Item, where: Any, engine: EngineFacts, target: dict[str, Any]) -> list[Problem]:
    problems = []
    if not (target.get("admin") or {}).get("secret"):
        problems.append(Problem(
            where, f"{item_label(item)} uses alternating rotation, but target {item.data['target']!r} has no admin "
                   f"secret",
            "alternating rotation sets the other user's password as the admin, whose credentials the rotation "
            "reads from the secret's `masterarn`: give the target `admin: {secret: ...}` (or use strategy single)"))
    name = item.data["name"]
    for longest in conventions.derived_names(probe(name), engine.name):
        length = engine.name_length(longest)
        if length > engine.name_limit:
            problems.append(Problem(
                item.doc.where((*item.path, "name")),
                f"alternating rotation needs the user {longest!r} ({length} characters); {engine.name} allows "
                f"{engine.name_limit}",
                f"shorten the account name to at most {engine.name_limit - len(longest.removeprefix(name))} "
                f"characters"))
    return problems


@rule("entry", "account-iam")
def iam(item: Item, engine: EngineFacts, known: Known) -> list[Problem]:
    if not item.login or item.data.get("auth") != "iam":
        return []
    problems = []
    if not engine.iam_authentication:
        problems.append(Problem(item.doc.where((*item.path, "auth")), f"{item_label(item)}: {engine.label} has no "
                                "IAM database authentication (RDS offers it for PostgreSQL and MySQL)",
                                "remove `auth: iam` (the account gets a password and a secret)"))
    for key in ("rotation", "secret", "password"):
        if key in item.data:
            problems.append(Problem(item.doc.where((*item.path, key), key=True),
                                    f"{item_label(item)} uses `auth: iam`: it has no password, so no `{key}`",
                                    f"remove `{key}`"))
    return problems


@rule("manifest", "one-secret-one-account")
def shared_secrets(known: Known) -> list[Problem]:
    """One secret, one account (SPEC 8): two accounts whose secret name templates render the same name would
    overwrite each other's password. Names that depend on a database the file does not give are left to `plan`,
    which refuses a secret tagged for another account."""
    first: dict[str, Item] = {}
    problems = []
    for item in known.entries:
        name = _rendered_secret_name(item, known)
        if name is None:
            continue
        other = first.setdefault(name, item)
        same_entry = (other.data["target"], other.data["name"], host_part(other.data)) == (
            item.data["target"], item.data["name"], host_part(item.data))
        if other is not item and not same_entry:  # an entry declared twice is reported as such
            problems.append(Problem(
                item.doc.where((*item.path, "name")),
                f"{item_label(item)} would share the secret {name!r} with {item_label(other)} of target "
                f"{other.data['target']!r} (at {other.location}): each would overwrite the other's password",
                "give one of them its own `secret: {name: ...}` (e.g. with its host part in the name)"))
    return problems


def _rendered_secret_name(item: Item, known: Known) -> str | None:
    target = known.targets.get(item.data["target"])
    if target is None or not item.login or item.data.get("auth") == "iam":
        return None
    template = known.section(item, "secret").get("name", "{target}/{account}")
    spec = target[1]
    if "{database}" in template and not spec.get("database") and not spec.get("databases"):
        return None
    try:
        return str(template.format(target=item.data["target"], account=item.data["name"], engine=spec["engine"],
                                   database=spec.get("database") or (spec.get("databases") or [""])[0]))
    except (KeyError, IndexError, ValueError):
        return None  # reported by the template check
