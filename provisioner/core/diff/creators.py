"""Who creates objects in a schema: the roles whose default privileges carry `schema.*` to future objects.

The schema's owner (PostgreSQL 15+: `pg_database_owner` stands for the database owner, resolved by inspection)
and every role that can CREATE in it: the holders the server lists now, except managed roles, which count as
the manifest declares them (so the first apply already covers a creator it grants CREATE to). A target's
`default_privileges_for` replaces the whole set. Creators the admin cannot act for are warned about, not used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from provisioner.core.kinds import ObjectKind, with_default_privileges
from provisioner.core.model import AclGroup, DatabaseState, Principal, Target

DEFAULTABLE = with_default_privileges()


def holders_of_create(groups: Iterable[AclGroup]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for group in groups:
        holders = {g for g, privs in group.grants.items() if "CREATE" in privs}
        holders |= {g for g, by in group.foreign.items() if any("CREATE" in privs for privs in by.values())}
        for ref in group.objects:
            found[ref.name] |= holders
    return found


def schema_creators(target: Target, db: DatabaseState, schema_groups: Iterable[AclGroup],
                    principals: list[Principal], warnings: list[str], also: Iterable[str] = ()
                    ) -> dict[str, tuple[str, ...]]:
    """schema -> the roles default privileges are set for, for every schema a `schema.*` grant names (and the
    schemas `also` names)."""
    wildcard_schemas = sorted({g.obj.schema for p in principals if p.state == "present" for g in p.grants
                               if g.obj.is_wildcard and g.obj.kind in DEFAULTABLE} | set(also))
    if target.default_privileges_for:
        return {schema: target.default_privileges_for for schema in wildcard_schemas}
    managed = {p.name for p in principals}
    declared = declared_creators(principals)
    held = holders_of_create(schema_groups)
    creators: dict[str, tuple[str, ...]] = {}
    for schema in wildcard_schemas:
        if schema not in db.schema_owners:
            continue
        owner = db.schema_owners[schema]
        others = {r for r in held.get(schema, set()) if r not in managed} | declared.get(schema, set())
        if "PUBLIC" in others:
            warnings.append(f"PUBLIC can CREATE in schema {schema}: objects that roles other than "
                            f"{', '.join(sorted({owner} | others - {'PUBLIC'}))} create there get none of the "
                            f"default privileges of `{schema}.*` (REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC, "
                            f"or list the creators in the target's default_privileges_for)")
        creators[schema] = tuple(_usable(db, schema, [owner, *sorted(others - {"PUBLIC", owner})], warnings))
    return creators


def declared_creators(principals: list[Principal]) -> dict[str, set[str]]:
    """schema -> the principals the manifest grants CREATE on it (they create there once the apply ran)."""
    declared: dict[str, set[str]] = defaultdict(set)
    for p in principals:
        for g in p.grants if p.state == "present" else ():
            if g.obj.kind == ObjectKind.SCHEMA and "CREATE" in g.privileges:
                declared[g.obj.name].add(p.name)
    return declared


def _usable(db: DatabaseState, schema: str, roles: list[str], warnings: list[str]) -> list[str]:
    """The creators the admin can set default privileges for (it must hold their privileges); a warning for
    each other one."""
    usable = []
    for role in roles:
        state = db.roles.get(role)
        if state is not None and not state.admin_holds:
            warnings.append(f"objects {role} creates in schema {schema} get none of the default privileges "
                            f"of `{schema}.*`: the admin {db.admin_user} does not hold the privileges of "
                            f"{role} (GRANT {role} TO {db.admin_user} WITH INHERIT TRUE)")
            continue
        usable.append(role)
    return usable
