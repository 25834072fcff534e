"""What the server must answer after one apply, computed from the manifest of a differential case alone: the
managed database roles, their memberships, every (role, object, privilege) they hold directly, through the
roles they are members of, or as implied CONNECT/USAGE, and the default-privilege entries of `schema.*`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from support.universe import PG_TABLE, Case, Principal, Schema, Universe

Cell = tuple[str, str, str]  # (kind, object, privilege)
KIND_OF_KEY = {"tables": "table", "columns": "column", "sequences": "sequence", "functions": "function",
               "procedures": "procedure", "schemas": "schema", "databases": "database", "types": "type",
               "languages": "language", "foreign_data_wrappers": "foreign data wrapper",
               "foreign_servers": "foreign server", "tablespaces": "tablespace", "parameters": "parameter"}
OUTSIDE_DATABASES = ("tablespaces", "parameters")  # grants on them imply no CONNECT


@dataclass
class Expected:
    roles: dict[str, set[Cell]] = field(default_factory=dict)  # database role -> cells it holds itself
    members: set[tuple[str, str]] = field(default_factory=set)  # (role, member)
    defaults: set[tuple[str, str, str, str, str]] = field(default_factory=set)  # creator, schema, kind, grantee, priv
    logins: list[str] = field(default_factory=list)  # accounts whose secret must log in
    settings: set[tuple[str, str]] = field(default_factory=set)  # (role, "parameter=value")
    options: dict[tuple[str, str], dict[str, bool]] = field(default_factory=dict)  # (role, member) -> options
    gone: list[str] = field(default_factory=list)  # roles that must not exist

    def closure(self, role: str) -> set[str]:
        """The role and every role whose privileges it holds through membership."""
        seen: set[str] = set()
        todo = [role]
        while todo:
            r = todo.pop()
            if r not in seen:
                seen.add(r)
                # A membership held with `inherit: false` gives no privileges without SET ROLE.
                todo += [g for g, m in self.members if m == r and self.options.get((g, m), {}).get("inherit", True)]
        return seen

    def effective(self, role: str) -> set[Cell]:
        return {cell for r in self.closure(role) for cell in self.roles.get(r, set())}


def table_privileges(major: int) -> tuple[str, ...]:
    return (*PG_TABLE, "MAINTAIN") if major >= 17 else PG_TABLE


def db_roles(p: Principal, engine: str) -> tuple[str, list[str]]:
    """(the role holding the grants, the login users) of a manifest principal."""
    if p.login and p.strategy == "alternating":
        users = [p.name, f"{p.name}_clone"]
        return (f"{p.name}_group", users) if engine == "postgres" else (p.name, users)
    return p.name, [p.name] if p.login else []


def objects(s: Schema, kind: str, late: dict[str, list[str]] | None = None) -> list[str]:
    extra = (late or {}).get(f"{s.name}:{kind}", [])
    if kind == "table":
        return [f"{s.name}.{t}" for t in s.tables + s.views + extra]
    if kind == "sequence":
        return [f"{s.name}.{q}" for q in s.sequences + extra]
    if kind == "type":
        return [f"{s.name}.{t}" for t in s.types + extra]
    return [f"{s.name}.{f}" for f in s.functions + s.procedures + extra]


def object_key(grant: dict) -> str:
    return next(k for k in grant if k not in ("privileges", "database"))


def _cells(u: Universe, grant: dict, major: int, late: dict[str, list[str]] | None) -> set[Cell]:
    key = object_key(grant)
    kind = KIND_OF_KEY[key]
    privileges = list(grant["privileges"])
    if privileges == ["ALL"]:
        privileges = list(table_privileges(major)) if u.engine == "postgres" else privileges
    found: set[Cell] = set()
    if kind == "column":
        for table, columns in grant[key].items():
            found |= {("column", f"{table}.{col}", p) for col in columns for p in privileges}
        return found
    for name in grant[key]:
        if u.engine == "postgres" and name.endswith(".*"):
            refs = objects(u.schema(name[:-2]), kind, late)
            found |= {(kind, ref, p) for ref in refs for p in privileges}
        else:
            found |= {(kind, name, p) for p in privileges}
    return found


def _implied(u: Universe, grants: list[dict]) -> set[Cell]:
    """CONNECT on the database for any grant, USAGE on the schema of every object named (wildcard or not)."""
    if u.engine != "postgres" or not grants:
        return set()
    out: set[Cell] = set()
    for grant in grants:
        if object_key(grant) not in OUTSIDE_DATABASES:
            out.add(("database", grant.get("database", u.database), "CONNECT"))
        for key, value in grant.items():
            if key in ("tables", "columns", "sequences", "functions", "types"):
                out |= {("schema", name.split(".")[0], "USAGE") for name in value}
    return out


def expected(c: Case, major: int, late: dict[str, list[str]] | None = None) -> Expected:
    u = c.universe
    out = Expected()
    for p in c.principals:
        holder, users = db_roles(p, u.engine)
        if p.state == "absent":
            out.gone += [holder, *users] if holder not in users else users
            continue
        cells: set[Cell] = set()
        for grant in p.grants:
            cells |= _cells(u, grant, major, late)
        out.roles[holder] = cells | _implied(u, p.grants)
        out.settings |= {(role, f"{k}={v}") for role in (users or [holder]) for k, v in p.settings.items()}
        for user in users:
            out.roles.setdefault(user, set())
            if user != holder:
                out.members.add((holder, user))
        out.members |= {(role, holder) for role in p.member_of}
        out.options |= {(role, holder): {"admin": False, **p.options.get(role, {})} for role in p.member_of}
        if p.login and p.auth == "iam":
            out.members.add(("rds_iam", p.name))
        elif p.login:
            out.logins.append(p.name)
    if u.engine == "postgres":
        out.defaults = _defaults(c, major)
    return out


def declared_owners(c: Case) -> dict[str, str]:
    """object -> the role whose `owns:` names it now (`schema.*` of the other database: each of its tables)."""
    found: dict[str, str] = {}
    for p in c.principals:
        for entry in p.ownership if p.state == "present" else ():
            for key, names in entry.items():
                if key == "database":
                    continue
                for name in names:
                    if name.endswith(".*"):
                        found.update((table, p.name) for table in objects(c.universe.schema(name[:-2]), "table"))
                    else:
                        found[name] = p.name
    return found


def owners_after(c: Case) -> dict[str, str]:
    """Who owns the declared objects once this case's manifest is applied: what it declares now, what earlier
    rounds declared (nothing takes it back), and the heir for what a retired role owned."""
    owned = dict(c.owned)
    heirs = {p.name: p.retire["reassign_owned_to"] for p in c.principals
             if p.state == "absent" and p.retire.get("reassign_owned_to")}
    owned = {obj: heirs.get(owner, owner) for obj, owner in owned.items()}
    owned.update(declared_owners(c))
    return owned


def creators(c: Case, s: Schema) -> list[str]:
    """Who creates in the schema: its owner (as declared by `owns:` in this or an earlier round, else as the
    universe made it; pg_database_owner: the database's), bystanders with CREATE, and managed roles whose
    manifest grants CREATE on it."""
    owner = c.owned.get(s.name) or s.owner or "ADMIN"
    if owner == "pg_database_owner":
        owner = c.universe.database_owner or "ADMIN"
    found = [owner, *s.creators]
    for p in c.principals:
        if p.state == "present" and any("CREATE" in g["privileges"] and s.name in g.get("schemas", [])
                                        for g in p.grants):
            found.append(db_roles(p, c.universe.engine)[0])
    return sorted(set(found))


def _defaults(c: Case, major: int) -> set[tuple[str, str, str, str, str]]:
    wanted: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for p in c.principals:
        if p.state != "present":
            continue
        holder = db_roles(p, "postgres")[0]
        for grant in p.grants:
            key = object_key(grant)
            if key not in ("tables", "sequences", "functions", "types"):
                continue
            privileges = list(grant["privileges"])
            if privileges == ["ALL"]:
                privileges = list(table_privileges(major))
            for name in grant[key]:
                if name.endswith(".*"):
                    wanted[(holder, name[:-2], KIND_OF_KEY[key])] |= set(privileges)
    out = set()
    for (holder, schema, kind), privileges in wanted.items():
        for creator in creators(c, c.universe.schema(schema)):
            if creator != holder:
                out |= {(creator, schema, kind, holder, p) for p in privileges}
    return out
