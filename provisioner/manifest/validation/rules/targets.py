"""Rules about targets: their databases, default privileges, PUBLIC, and an IAM admin — each a capability of the
target's engine (`core.engine_facts`)."""

from __future__ import annotations

from typing import Any

from provisioner.core import names, privileges
from provisioner.core.engine_facts import EngineFacts
from provisioner.core.kinds import BY_KEY, Container, kind_of_key, spec
from provisioner.errors import Problem
from provisioner.manifest.build import object_key, parse_grant
from provisioner.manifest.documents import Document
from provisioner.manifest.validation.rules.registry import Known, rule
from provisioner.manifest.validation.words import suggest


def managed_databases(target: dict[str, Any]) -> list[str]:
    """The databases a target manages: its `databases`, else its `database` alone (unknown: none)."""
    return list(target.get("databases") or ([target["database"]] if target.get("database") else []))


@rule("target", "target-databases")
def databases(name: str, doc: Document, target: dict[str, Any], engine: EngineFacts, known: Known) -> list[Problem]:
    if target.get("databases") and not engine.cluster_databases:
        return [Problem(doc.where(("targets", name, "databases"), key=True),
                        "`databases` lists the databases of a PostgreSQL cluster; a MySQL/MariaDB target reaches every "
                        "database of its server already", "remove it and name objects as database.table")]
    if target.get("databases") and target.get("database") and target["database"] not in target["databases"]:
        return [Problem(doc.where(("targets", name, "database")),
                        f"target {name!r}: database {target['database']!r} is not one of its databases "
                        f"({', '.join(target['databases'])})", "add it to `databases:`")]
    return []


@rule("target", "target-default-privileges-for")
def default_privileges_for(name: str, doc: Document, target: dict[str, Any], engine: EngineFacts, known: Known
                           ) -> list[Problem]:
    if target.get("default_privileges_for") and not engine.default_privileges:
        return [Problem(doc.where(("targets", name, "default_privileges_for"), key=True),
                        "default_privileges_for applies to PostgreSQL only", "remove it")]
    return []


@rule("target", "target-public-privileges")
def public_privileges(name: str, doc: Document, target: dict[str, Any], engine: EngineFacts, known: Known
                      ) -> list[Problem]:
    public = target.get("public_privileges") or {}
    if public and not engine.public_role:
        return [Problem(doc.where(("targets", name, "public_privileges"), key=True),
                        "public_privileges applies to PostgreSQL only (MySQL/MariaDB have no PUBLIC)", "remove it")]
    problems = []
    for key in ("revoke", "grants"):
        for i, entry in enumerate(public.get(key) or []):
            path = ("targets", name, "public_privileges", key, i)
            problems += grant_database_problems(doc, path, entry, target, engine, f"target {name!r}: public_privileges")
            problems += _public_entry(name, doc.where(path), entry, engine)
    return problems


def _public_entry(name: str, where: Any, entry: dict[str, Any], engine: EngineFacts) -> list[Problem]:
    extra = [key for key in ("expires", "except") if key in entry]
    if extra:
        return [Problem(where, f"target {name!r}: public_privileges entries take no `{extra[0]}`",
                        f"remove `{extra[0]}`: PUBLIC's declared state has no end and no exceptions")]
    try:
        parse_grant(engine.name, entry, where)
    except names.NameError_ as exc:
        return [Problem(where, f"target {name!r}: public_privileges: {exc}",
                        "write schema.name, or schema.* for every object of the kind")]
    allowed = spec(kind_of_key(object_key(entry))).on(engine.family)
    wrong = [p for p in entry["privileges"] if privileges.normalize(p) not in allowed | {"ALL"}]
    if wrong:
        return [Problem(where, f"target {name!r}: public_privileges: {', '.join(wrong)} does not apply here",
                        f"use one of: {', '.join(sorted(allowed))}")]
    return []


@rule("target", "target-iam-admin")
def iam_admin(name: str, doc: Document, target: dict[str, Any], engine: EngineFacts, known: Known) -> list[Problem]:
    if not (target.get("admin") or {}).get("iam"):
        return []
    where = doc.where(("targets", name, "admin", "iam"))
    problems = []
    if not engine.iam_authentication:
        problems.append(Problem(where, f"target {name!r}: {engine.label} has no IAM database authentication",
                                "use `admin: {secret: ...}`"))
    if not target.get("host"):
        problems.append(Problem(where, f"target {name!r}: an IAM admin needs the target's `host` (the token is "
                                       f"signed for it)", "set `host:` (and `port:`) on the target"))
    if (target.get("tls") or {}).get("mode") == "disable":
        problems.append(Problem(where, f"target {name!r}: IAM authentication tokens are accepted over TLS only",
                                "remove `tls: {mode: disable}`"))
    return problems


def grant_database_problems(doc: Document, path: tuple[Any, ...], entry: dict[str, Any], target: dict[str, Any],
                            engine: EngineFacts, label: str) -> list[Problem]:
    """`database:` on a grant: where a target manages several databases, one of them, never on `databases:`."""
    database = entry.get("database") if isinstance(entry, dict) else None
    if database is None:
        return []
    where = doc.where((*path, "database"))
    if not engine.cluster_databases:
        return [Problem(where, f"{label}: `database:` on a grant is PostgreSQL's; MySQL/MariaDB name the database "
                               f"in the object (database.table)", "remove `database:`")]
    server_wide = [key for key in entry if key in BY_KEY and spec(BY_KEY[key]).container == Container.SERVER]
    if server_wide:
        return [Problem(where, f"{label}: `database:` does not apply to a `{server_wide[0]}:` grant (they belong "
                               f"to the server, not to a database)", "remove `database:`")]
    known = managed_databases(target)
    if database not in known:
        return [Problem(where, f"{label}: database {database!r} is not managed by the target "
                               f"({', '.join(known) or 'it names no database'})",
                        f"{suggest(database, known)}add it to the target's `databases:`")]
    return []
