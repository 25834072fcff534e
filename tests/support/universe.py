"""The differential test's generator: seeded random universes (schemas or databases with tables, columns,
views, sequences, routines with overloads), random manifests over them, random out-of-band drift, and the
expected privileges computed from the manifest alone (never from the tool's inspection).

Pure: a seed gives the same case on every machine; the test runs it against a real server and compares every
(principal, object, privilege) cell with the server's own answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import yaml

PG_TABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
PG_COLUMN = ("SELECT", "INSERT", "UPDATE", "REFERENCES")
PG_SEQUENCE = ("USAGE", "SELECT", "UPDATE")
PG_SCHEMA = ("USAGE", "CREATE")
PG_DATABASE = ("CONNECT", "TEMPORARY", "CREATE")
MY_TABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "INDEX", "ALTER", "CREATE VIEW", "SHOW VIEW", "TRIGGER")
MY_DATABASE = (*MY_TABLE, "CREATE", "DROP", "EXECUTE", "CREATE TEMPORARY TABLES", "LOCK TABLES")
MY_COLUMN = ("SELECT", "INSERT", "UPDATE", "REFERENCES")
MY_ROUTINE = ("EXECUTE", "ALTER ROUTINE")
COLUMNS = ("c0", "c1", "c2")
# SPEC 9: the kinds beyond the first six (PostgreSQL). The tablespace is the session's (conftest.pg_tablespace).
TABLESPACE = "provisioner_test_space"
LANGUAGES = ("plpgsql", "sql")
PARAMETERS = ("work_mem", "lock_timeout")  # PostgreSQL 15+
LARGE_OBJECT = 424242  # one per database, made with this oid


@dataclass
class Schema:
    """One PostgreSQL schema or one MariaDB database and what it holds."""

    name: str
    owner: str = ""  # PostgreSQL: '' = the admin; 'pg_database_owner' on `public` (15+)
    tables: list[str] = field(default_factory=list)  # tables and views (both take table privileges)
    views: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)  # PostgreSQL: name(argtypes); MariaDB: name
    procedures: list[str] = field(default_factory=list)
    creators: list[str] = field(default_factory=list)  # bystander roles holding CREATE (PostgreSQL)
    types: list[str] = field(default_factory=list)  # PostgreSQL: enums and domains


@dataclass
class Universe:
    engine: str
    prefix: str
    database: str
    schemas: list[Schema]
    bystanders: list[str]
    grantor: str  # PostgreSQL: a bystander holding SELECT WITH GRANT OPTION on every table
    database_owner: str = ""  # PostgreSQL: '' = the admin
    major: int = 15  # PostgreSQL: the server's major version
    # PostgreSQL: a second database of the cluster the target manages (`databases:`), with one schema
    other_database: str = ""
    other: Schema | None = None
    iam: bool = False  # PostgreSQL: a stand-in rds_iam role exists, and accounts may use `auth: iam`
    admin_account: str = ""  # MariaDB: the admin as 'user'@'host' (PROXY on it is what the admin may grant)

    @property
    def wrapper(self) -> str:
        return f"{self.prefix}fdw"

    @property
    def foreign_server(self) -> str:
        return f"{self.prefix}srv"

    @property
    def squatter(self) -> str:
        """A role drift hands declared-owned objects to (not a bystander: a transfer rewrites an ACL's grantor)."""
        return f"{self.prefix}squatter"

    def schema(self, name: str) -> Schema:
        return next(s for s in [*self.schemas, *([self.other] if self.other else [])] if s.name == name)


@dataclass
class Principal:
    name: str
    login: bool
    grants: list[dict[str, Any]]
    member_of: list[str] = field(default_factory=list)
    strategy: str = "single"
    state: str = "present"
    existed: bool = False  # created before the first apply (adopted when named)
    settings: dict[str, str] = field(default_factory=dict)  # PostgreSQL role settings
    options: dict[str, dict[str, bool]] = field(default_factory=dict)  # membership options by role (PostgreSQL)
    owns: bool = False  # PostgreSQL: existed, and owns a table in each database (retired to the heir when absent)
    retire: dict[str, Any] = field(default_factory=dict)
    auth: str = "password"
    # PostgreSQL roles: `owns:` as the manifest writes it (a list of {database?, schemas|tables|...: [...]})
    ownership: list[dict[str, Any]] = field(default_factory=list)

    def entry(self, target: str) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "target": target}
        if self.state == "absent":
            out["state"] = "absent"
            if self.retire:
                out["retire"] = dict(self.retire)
            return out
        if self.login and self.auth != "password":
            out["auth"] = self.auth
        if self.strategy != "single":
            out["rotation"] = {"strategy": self.strategy}
        if self.member_of:
            out["member_of"] = [{"role": r, **self.options[r]} if self.options.get(r) else r for r in self.member_of]
        if self.settings:
            out["settings"] = dict(self.settings)
        if self.ownership:
            out["owns"] = list(self.ownership)
        out["grants"] = self.grants
        return out


@dataclass
class Case:
    seed: int
    universe: Universe
    principals: list[Principal]
    public: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # PostgreSQL public_privileges
    # PostgreSQL: who owns what the manifests have declared owned so far (object -> role), kept across rounds:
    # an object stays with its owner when a declaration goes (`owns:` transfers, never takes back)
    owned: dict[str, str] = field(default_factory=dict)

    def target_extra(self) -> str:
        extra: dict[str, Any] = {}
        if self.universe.other_database:
            extra["databases"] = [self.universe.database, self.universe.other_database]
        if self.public:
            extra["public_privileges"] = self.public
        if not extra:
            return ""
        text = yaml.safe_dump(extra, sort_keys=False, width=200)
        return "".join(f"    {line}\n" for line in text.splitlines())

    def manifest(self, target: str) -> str:
        body = {"roles": [p.entry(target) for p in self.principals if not p.login],
                "accounts": [p.entry(target) for p in self.principals if p.login]}
        return yaml.safe_dump({k: v for k, v in body.items() if v}, sort_keys=False, width=200)


# ---------------------------------------------------------------- universes


def universe(rng: random.Random, engine: str, prefix: str, database: str, major: int = 15) -> Universe:
    bystanders = [f"{prefix}by{i}" for i in range(rng.randint(1, 2))]
    if engine == "postgres":
        names = [f"s{i}" for i in range(rng.randint(1, 3))] + (["public"] if rng.random() < 0.5 else [])
    else:
        names = [database] + ([f"{database}_b"] if rng.random() < 0.5 else [])
    schemas = [_schema(rng, name, engine, prefix, bystanders, major) for name in names]
    owner = f"{prefix}dbowner" if engine == "postgres" and rng.random() < 0.4 else ""
    u = Universe(engine, prefix, database, schemas, bystanders, f"{prefix}legacy", owner, major)
    if engine == "postgres" and rng.random() < 0.5:
        u.other_database = f"{database}_other"
        u.other = Schema("o0", tables=[f"t{i}" for i in range(rng.randint(1, 2))], sequences=["q0"],
                         functions=["g(integer)"])
    u.iam = engine == "postgres" and rng.random() < 0.3
    return u


def _schema(rng: random.Random, name: str, engine: str, prefix: str, bystanders: list[str], major: int) -> Schema:
    schema = Schema(name)
    schema.tables = [f"t{i}" for i in range(rng.randint(1, 3))]
    schema.views = [f"v{i}" for i in range(rng.randint(0, 1))]
    if engine == "postgres":
        schema.sequences = [f"q{i}" for i in range(rng.randint(0, 2))]
        schema.functions = ["f(integer)"] + (["f(text)"] if rng.random() < 0.6 else [])
        schema.procedures = ["pr()"] if rng.random() < 0.4 else []
        schema.types = ["ty0"] + (["dm0"] if rng.random() < 0.5 else [])
        if name == "public":
            schema.owner = "pg_database_owner" if major >= 15 else ""
        elif rng.random() < 0.4:
            schema.owner = f"{prefix}schemaowner"
        if rng.random() < 0.5:
            schema.creators = [f"{prefix}migrator"]
    else:
        schema.functions = [f"fn{i}" for i in range(rng.randint(0, 2))]
        schema.procedures = [f"pr{i}" for i in range(rng.randint(0, 1))]
    return schema


def setup_sql(u: Universe, admin: str) -> list[str]:
    """The universe as statements, run as the admin before anything else."""
    return _pg_setup(u, admin) if u.engine == "postgres" else _maria_setup(u)


def _pg_setup(u: Universe, admin: str) -> list[str]:
    p = u.prefix
    roles = {*u.bystanders, u.grantor, f"{p}migrator", f"{p}schemaowner", f"{p}dbowner", u.squatter}
    out = [f'CREATE ROLE "{r}" NOLOGIN' for r in sorted(roles)]
    if u.database_owner:
        out.append(f'ALTER DATABASE "{u.database}" OWNER TO "{u.database_owner}"')
    for s in u.schemas:
        if s.name != "public":
            owner = f' AUTHORIZATION "{s.owner}"' if s.owner else ""
            out.append(f'CREATE SCHEMA "{s.name}"{owner}')
        for t in s.tables:
            out.append(f'CREATE TABLE "{s.name}"."{t}" (c0 int, c1 text, c2 int)')
        for v in s.views:
            out.append(f'CREATE VIEW "{s.name}"."{v}" AS SELECT 1 AS c0, 2 AS c1, 3 AS c2')
        for q in s.sequences:
            out.append(f'CREATE SEQUENCE "{s.name}"."{q}"')
        for f in s.functions:
            name, args = f.split("(")
            out.append(f'CREATE FUNCTION "{s.name}"."{name}"({args} RETURNS int LANGUAGE sql AS \'SELECT 1\'')
        for pr in s.procedures:
            out.append(f'CREATE PROCEDURE "{s.name}"."{pr[:-2]}"() LANGUAGE sql AS \'SELECT 1\'')
        for ty in s.types:
            out.append(f'CREATE TYPE "{s.name}"."{ty}" AS ENUM (\'a\')' if ty.startswith("ty") else
                       f'CREATE DOMAIN "{s.name}"."{ty}" AS int')
        out.append(f'GRANT USAGE ON SCHEMA "{s.name}" TO "{u.grantor}"')
        out.append(f'GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA "{s.name}" TO "{u.grantor}" WITH GRANT OPTION')
        for creator in s.creators:
            out.append(f'GRANT USAGE, CREATE ON SCHEMA "{s.name}" TO "{creator}"')
        if s.tables:
            out.append(f'GRANT SELECT ON "{s.name}"."{s.tables[0]}" TO "{u.bystanders[0]}"')
    out.append(f'GRANT "{u.bystanders[0]}" TO "{u.grantor}"')
    out += [f'CREATE FOREIGN DATA WRAPPER "{u.wrapper}"', f'CREATE SERVER "{u.foreign_server}" FOREIGN DATA WRAPPER '
            f'"{u.wrapper}"', f"SELECT lo_create({LARGE_OBJECT})"]
    if u.iam:
        out.append('CREATE ROLE "rds_iam" NOLOGIN')  # RDS's role, standing in
    out.append(f'CREATE ROLE "{u.prefix}heir" NOLOGIN')  # where retired roles' objects go
    return out


def other_setup_sql(u: Universe) -> list[str]:
    """The second database's schema and objects (run in that database, as the admin)."""
    s = u.other
    if s is None:
        return []
    out = [f'CREATE SCHEMA "{s.name}"']
    out += [f'CREATE TABLE "{s.name}"."{t}" (c0 int, c1 text, c2 int)' for t in s.tables]
    out += [f'CREATE SEQUENCE "{s.name}"."{q}"' for q in s.sequences]
    out += [f'CREATE FUNCTION "{s.name}"."{f.split("(")[0]}"(integer) RETURNS int LANGUAGE sql AS \'SELECT 1\''
            for f in s.functions]
    return out


def owned_sql(u: Universe, role: str, other: bool) -> list[str]:
    """A table the role owns, in the first schema (and in the other database's schema, `other`)."""
    schema = (u.other.name if other and u.other else u.schemas[0].name)
    return [f'CREATE TABLE "{schema}"."{role}_own" (c0 int, c1 text, c2 int)',
            f'ALTER TABLE "{schema}"."{role}_own" OWNER TO "{role}"']


def _maria_setup(u: Universe) -> list[str]:
    out = []
    for s in u.schemas:
        if s.name != u.database:
            out.append(f"CREATE DATABASE `{s.name}`")
        for t in s.tables:
            out.append(f"CREATE TABLE `{s.name}`.`{t}` (c0 int, c1 text, c2 int)")
        for v in s.views:
            out.append(f"CREATE VIEW `{s.name}`.`{v}` AS SELECT 1 AS c0, 2 AS c1, 3 AS c2")
        for f in s.functions:
            out.append(f"CREATE FUNCTION `{s.name}`.`{f}`() RETURNS INT DETERMINISTIC RETURN 1")
        for pr in s.procedures:
            out.append(f"CREATE PROCEDURE `{s.name}`.`{pr}`() BEGIN END")
    first = u.schemas[0]
    out.append(f"CREATE USER '{u.bystanders[0]}'@'%' IDENTIFIED BY 'bystander-{u.prefix}'")
    out.append(f"GRANT SELECT ON `{first.name}`.* TO '{u.bystanders[0]}'@'%'")
    for extra in u.bystanders[1:]:
        out.append(f"CREATE ROLE `{extra}`")
        out.append(f"GRANT SELECT ON `{first.name}`.`{first.tables[0]}` TO `{extra}`")
    return out


# ---------------------------------------------------------------- manifests


def case(seed: int, engine: str, prefix: str, database: str, major: int = 15) -> Case:
    rng = random.Random(seed)
    u = universe(rng, engine, prefix, database, major)
    roles = [Principal(f"{prefix}role{i}", False, []) for i in range(rng.randint(0, 2))]
    accounts = [Principal(f"{prefix}acc{i}", True, []) for i in range(rng.randint(1, 3))]
    for p in roles + accounts:
        p.grants = grants(rng, u)
        p.settings = settings(rng, engine)
    for a in accounts:
        a.strategy = "alternating" if rng.random() < 0.3 else "single"
        a.member_of = _memberships(rng, roles, engine)
        a.options = membership_options(rng, a.member_of, engine, major)
        a.existed = rng.random() < 0.25
    if len(roles) > 1 and rng.random() < 0.5 and engine == "postgres":
        roles[1].member_of = [roles[0].name]
    if engine == "postgres":
        ownership(rng, u, roles, set())
    if u.iam:
        chosen = rng.choice(accounts)
        chosen.auth, chosen.strategy = "iam", "single"  # no password: nothing to rotate
    gone = Principal(f"{prefix}gone", True, [], state="absent", existed=rng.random() < 0.5)
    if engine == "postgres" and gone.existed and rng.random() < 0.6:
        gone.owns = True
        gone.retire = {"reassign_owned_to": f"{prefix}heir", "terminate_sessions": rng.random() < 0.5}
    return Case(seed, u, roles + accounts + [gone], public_privileges(rng, u))


def ownership(rng: random.Random, u: Universe, roles: list[Principal], claimed: set[str]) -> None:
    """`owns:` for some roles: a schema, named tables, sequences or functions, or every table of the other
    database's schema; no object claimed twice (`claimed`: object keys, updated)."""
    for role in (r for r in roles if r.state == "present" and rng.random() < 0.5):
        s = rng.choice(u.schemas)
        picks: dict[str, list[str]] = {}
        if s.name not in claimed and rng.random() < 0.5:
            picks["schemas"] = [s.name]
        for key, names in (("tables", s.tables + s.views), ("sequences", s.sequences),
                           ("functions", s.functions + s.procedures)):
            free = [f"{s.name}.{n}" for n in names if f"{s.name}.{n}" not in claimed]
            if free and rng.random() < 0.4:
                picks[key] = _some(rng, free, 2)
        entries: list[dict[str, Any]] = [picks] if picks else []
        other = f"{u.other.name}.*" if u.other else ""
        if other and other not in claimed and rng.random() < 0.3:
            entries.append({"database": u.other_database, "tables": [other]})
        for entry in entries:
            claimed.update(name for key, names in entry.items() if key != "database" for name in names)
        role.ownership = entries


def public_privileges(rng: random.Random, u: Universe) -> dict[str, list[dict[str, Any]]]:
    """PUBLIC's declared state on a few objects (PostgreSQL)."""
    if u.engine != "postgres" or rng.random() < 0.5:
        return {}
    s = rng.choice(u.schemas)
    databases = [u.database, u.other_database] if u.other_database and rng.random() < 0.6 else [u.database]
    revoke: list[dict[str, Any]] = [{"privileges": _some(rng, ("CONNECT", "TEMPORARY")), "databases": databases}]
    if rng.random() < 0.5:
        revoke.append({"privileges": ["EXECUTE"], "functions": [f"{s.name}.*"]})
    if s.name == "public":
        revoke.append({"privileges": ["CREATE"], "schemas": ["public"]})
    other = rng.choice(u.schemas)
    return {"revoke": revoke, "grants": [{"privileges": ["USAGE"], "schemas": [other.name]}]}


SETTINGS = {"statement_timeout": ("10s", "30s"), "lock_timeout": ("1s", "2s"), "work_mem": ("8MB", "16MB")}


def settings(rng: random.Random, engine: str) -> dict[str, str]:
    if engine != "postgres" or rng.random() < 0.6:
        return {}
    return {k: rng.choice(v) for k, v in rng.sample(sorted(SETTINGS.items()), rng.randint(1, 2))}


def membership_options(rng: random.Random, roles: list[str], engine: str, major: int) -> dict[str, dict[str, bool]]:
    if engine != "postgres":
        return {}
    found: dict[str, dict[str, bool]] = {}
    for role in roles:
        if rng.random() < 0.4:
            found[role] = {"admin": rng.random() < 0.5}
            if major >= 16 and rng.random() < 0.5:
                found[role] |= {"inherit": rng.random() < 0.5, "set": rng.random() < 0.5}
    return found


def _memberships(rng: random.Random, roles: list[Principal], engine: str) -> list[str]:
    if not roles or rng.random() < 0.5:
        return []
    # MariaDB activates one default role per account.
    count = 1 if engine != "postgres" else rng.randint(1, len(roles))
    return sorted(r.name for r in rng.sample(roles, count))


def grants(rng: random.Random, u: Universe) -> list[dict[str, Any]]:
    makers = _PG_GRANTS if u.engine == "postgres" else _MARIA_GRANTS
    found = [rng.choice(makers)(rng, u, rng.choice(u.schemas)) for _ in range(rng.randint(1, 4))]
    if u.other is not None and rng.random() < 0.5:
        maker = rng.choice([_pg_tables, _pg_tables, _pg_sequences, _pg_functions, _pg_schema])
        found.append({**(maker(rng, u, u.other) or {}), "database": u.other_database})
    found = [g for g in found if g and set(g) - {"database"}]
    # At least one grant: an account with none has no CONNECT once PUBLIC loses it, so its secret cannot log in.
    return found or [(_pg_tables if u.engine == "postgres" else _maria_tables)(rng, u, u.schemas[0])]


def _some(rng: random.Random, items: tuple[str, ...] | list[str], most: int = 3) -> list[str]:
    return sorted(rng.sample(list(items), rng.randint(1, min(most, len(items)))))


def _pg_tables(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any]:
    privs = ["ALL"] if rng.random() < 0.15 else _some(rng, PG_TABLE)
    if rng.random() < 0.4:
        return {"privileges": privs, "tables": [f"{s.name}.*"]}
    return {"privileges": privs, "tables": [f"{s.name}.{t}" for t in _some(rng, s.tables + s.views, 2)]}


def _pg_columns(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any]:
    table = rng.choice(s.tables)
    return {"privileges": _some(rng, PG_COLUMN, 2), "columns": {f"{s.name}.{table}": _some(rng, COLUMNS, 2)}}


def _pg_sequences(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any] | None:
    if not s.sequences:
        return None
    named = [f"{s.name}.{q}" for q in _some(rng, s.sequences, 1)]
    return {"privileges": _some(rng, PG_SEQUENCE, 2), "sequences": [f"{s.name}.*"] if rng.random() < 0.4 else named}


def _pg_functions(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any]:
    if rng.random() < 0.4:
        return {"privileges": ["EXECUTE"], "functions": [f"{s.name}.*"]}
    named = [f"{s.name}.{f}" for f in _some(rng, s.functions + s.procedures, 2)]
    return {"privileges": ["EXECUTE"], "functions": named}


def _pg_schema(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any]:
    return {"privileges": _some(rng, PG_SCHEMA, 2), "schemas": [s.name]}


def _pg_database(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any]:
    return {"privileges": _some(rng, PG_DATABASE, 2), "databases": [u.database]}


def _pg_types(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any] | None:
    if not s.types:
        return None
    if rng.random() < 0.4:
        return {"privileges": ["USAGE"], "types": [f"{s.name}.*"]}
    return {"privileges": ["USAGE"], "types": [f"{s.name}.{t}" for t in _some(rng, s.types, 2)]}


def outside_schemas(u: Universe) -> list[tuple[str, list[str], list[str]]]:
    """(key, objects, privileges) of the kinds outside any schema that a universe has."""
    found = [("languages", list(LANGUAGES), ["USAGE"]), ("foreign_data_wrappers", [u.wrapper], ["USAGE"]),
             ("foreign_servers", [u.foreign_server], ["USAGE"]), ("tablespaces", [TABLESPACE], ["CREATE"])]
    if u.major >= 15:
        found.append(("parameters", list(PARAMETERS), ["SET", "ALTER SYSTEM"]))
    return found


def _pg_outside(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any]:
    key, names, privileges = rng.choice(outside_schemas(u))
    return {"privileges": _some(rng, privileges, 2), key: _some(rng, names, 2)}


def _maria_tables(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any]:
    if rng.random() < 0.35:
        return {"privileges": _some(rng, MY_DATABASE), "tables": [f"{s.name}.*"]}
    return {"privileges": _some(rng, MY_TABLE), "tables": [f"{s.name}.{t}" for t in _some(rng, s.tables + s.views, 2)]}


def _maria_columns(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any]:
    table = rng.choice(s.tables)
    return {"privileges": _some(rng, MY_COLUMN, 2), "columns": {f"{s.name}.{table}": _some(rng, COLUMNS, 2)}}


def _maria_routines(rng: random.Random, u: Universe, s: Schema) -> dict[str, Any] | None:
    kind = rng.choice(["functions", "procedures"])
    names = s.functions if kind == "functions" else s.procedures
    if not names:
        return None
    return {"privileges": _some(rng, MY_ROUTINE, 2), kind: [f"{s.name}.{n}" for n in _some(rng, names, 2)]}


_PG_GRANTS = [_pg_tables, _pg_tables, _pg_columns, _pg_sequences, _pg_functions, _pg_schema, _pg_database,
              _pg_types, _pg_outside]
_MARIA_GRANTS = [_maria_tables, _maria_tables, _maria_columns, _maria_routines]


def mutate(rng: random.Random, c: Case) -> Case:
    """The next manifest: grants rewritten, a principal gone or added, a strategy switched, a role joined."""
    principals = [Principal(p.name, p.login, list(p.grants), list(p.member_of), p.strategy, p.state, p.existed,
                            dict(p.settings), dict(p.options), p.owns, dict(p.retire), p.auth, list(p.ownership))
                  for p in c.principals]
    present = [p for p in principals if p.state == "present"]
    for p in rng.sample(present, rng.randint(1, len(present))):
        p.grants = grants(rng, c.universe)
        p.settings = settings(rng, c.universe.engine)
    accounts = [p for p in present if p.login]
    for p in accounts:
        if p.member_of and rng.random() < 0.6:
            before = p.options
            p.options = membership_options(rng, p.member_of, c.universe.engine, c.universe.major)
            # inherit and set are managed only when written: a membership keeps them when the file stops
            # saying (written again here, so that the manifest alone tells what the server holds)
            for role in p.member_of:
                kept = {k: v for k, v in before.get(role, {}).items() if k in ("inherit", "set")}
                if kept:
                    p.options[role] = {"admin": False, **kept, **p.options.get(role, {})}
    if accounts and rng.random() < 0.4:
        switched = rng.choice(accounts)
        switched.strategy = "single" if switched.strategy == "alternating" else "alternating"
    if c.universe.iam and accounts and rng.random() < 0.5:
        switched = rng.choice(accounts)
        switched.auth = "password" if switched.auth == "iam" else "iam"
    for p in accounts:
        if p.auth == "iam":
            p.strategy = "single"
    roles = [p for p in present if not p.login]
    if c.universe.engine == "postgres" and roles and rng.random() < 0.5:
        for role in roles:  # declarations move between roles, or go (the objects stay with their owner)
            role.ownership = []
        ownership(rng, c.universe, roles, set())
    if len(present) > 1 and rng.random() < 0.5:
        leaving = rng.choice(present)
        if any(owner == leaving.name for owner in c.owned.values()) or leaving.ownership:
            # what it owns goes to the heir as it retires (a role that owns objects is never dropped as is)
            leaving.state, leaving.ownership = "absent", []
            leaving.retire = {"reassign_owned_to": f"{c.universe.prefix}heir"}
        elif rng.random() < 0.5:
            leaving.state = "absent"
        else:
            principals.remove(leaving)
        for p in principals:
            p.member_of = [r for r in p.member_of if r != leaving.name]
    if rng.random() < 0.5:
        principals.append(Principal(f"{c.universe.prefix}new", True, grants(rng, c.universe)))
    public = c.public if rng.random() < 0.7 else public_privileges(rng, c.universe)
    return Case(c.seed, c.universe, principals, public, dict(c.owned))


# ---------------------------------------------------------------- drift


def drift(rng: random.Random, u: Universe, targets: list[str], owned: dict[str, str] | None = None) -> list[str]:
    """Out-of-band statements on the managed roles `targets` (roles that exist now), and on the owner of an
    object the manifest declares owned (`owned`)."""
    if not targets:
        return []
    makers = _PG_DRIFT if u.engine == "postgres" else _MARIA_DRIFT
    found = [rng.choice(makers)(rng, u, rng.choice(u.schemas), rng.choice(targets)) for _ in range(rng.randint(2, 7))]
    return found + owner_drift(rng, u, owned or {})


def other_drift(rng: random.Random, u: Universe, targets: list[str]) -> list[str]:
    """Out-of-band statements in the second database (PostgreSQL clusters)."""
    if u.other is None or not targets:
        return []
    makers = [_pg_drift_table, _pg_drift_schema, _pg_drift_sequence_or_function, _pg_drift_default, _pg_drift_all]
    return [rng.choice(makers)(rng, u, u.other, rng.choice(targets)) for _ in range(rng.randint(1, 3))]


def _option(rng: random.Random) -> str:
    return " WITH GRANT OPTION" if rng.random() < 0.3 else ""


def _pg_drift_table(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    table = rng.choice(s.tables + s.views)
    return f'GRANT {", ".join(_some(rng, PG_TABLE))} ON "{s.name}"."{table}" TO "{r}"{_option(rng)}'


def _pg_drift_column(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    table = rng.choice(s.tables)
    columns = ", ".join(_some(rng, COLUMNS))
    return f'GRANT {rng.choice(PG_COLUMN)} ({columns}) ON "{s.name}"."{table}" TO "{r}"{_option(rng)}'


def _pg_drift_schema(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    return f'GRANT {", ".join(_some(rng, PG_SCHEMA))} ON SCHEMA "{s.name}" TO "{r}"{_option(rng)}'


def _pg_drift_database(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    return f'GRANT {", ".join(_some(rng, PG_DATABASE))} ON DATABASE "{u.database}" TO "{r}"{_option(rng)}'


def _pg_drift_sequence_or_function(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    if s.sequences and rng.random() < 0.5:
        return f'GRANT {", ".join(_some(rng, PG_SEQUENCE))} ON SEQUENCE "{s.name}"."{rng.choice(s.sequences)}" TO "{r}"'
    name, args = rng.choice(s.functions).split("(")
    return f'GRANT EXECUTE ON FUNCTION "{s.name}"."{name}"({args} TO "{r}"{_option(rng)}'


def _pg_drift_grantor(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    # the grantor holds its grant option on the tables of the universe's setup (not on those made for owners)
    table = rng.choice([t for t in s.tables if not t.endswith("_own")])
    return f'SET ROLE "{u.grantor}"; GRANT SELECT ON "{s.name}"."{table}" TO "{r}"; RESET ROLE'


def _pg_drift_default(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    creator = rng.choice([*s.creators, s.owner if s.owner and s.owner != "pg_database_owner" else ""]) or ""
    scope = f'FOR ROLE "{creator}" ' if creator else ""
    kind = rng.choice(["SELECT ON TABLES", "USAGE ON SEQUENCES", "EXECUTE ON FUNCTIONS"])
    return f'ALTER DEFAULT PRIVILEGES {scope}IN SCHEMA "{s.name}" GRANT {kind} TO "{r}"'


def _pg_drift_membership(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    return f'GRANT "{rng.choice(u.bystanders)}" TO "{r}"'


def _pg_drift_setting(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    return f'ALTER ROLE "{r}" SET {rng.choice(["statement_timeout", "lock_timeout"])} = \'3s\''


def _pg_drift_admin(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    """ADMIN OPTION on a membership of a manifest role (once that role exists), or a bystander's."""
    role = f"{u.prefix}role0"
    if r == role or rng.random() < 0.3:
        return f'GRANT "{rng.choice(u.bystanders)}" TO "{r}" WITH ADMIN OPTION'
    return (f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN "
            f'GRANT "{role}" TO "{r}" WITH ADMIN OPTION; END IF; END $$')


def _pg_drift_all(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    return f'GRANT ALL ON ALL TABLES IN SCHEMA "{s.name}" TO "{r}"'


def _pg_drift_type(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    return f'GRANT USAGE ON TYPE "{s.name}"."{rng.choice(s.types)}" TO "{r}"{_option(rng)}'


_KEYWORDS = {"languages": "LANGUAGE", "foreign_data_wrappers": "FOREIGN DATA WRAPPER",
             "foreign_servers": "FOREIGN SERVER", "tablespaces": "TABLESPACE", "parameters": "PARAMETER"}


def _pg_drift_outside(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    """A grant on a language, foreign data wrapper or server, the tablespace or a parameter (15+), or on the
    large object (which no manifest can declare)."""
    if rng.random() < 0.25:
        return f'GRANT {", ".join(_some(rng, ("SELECT", "UPDATE")))} ON LARGE OBJECT {LARGE_OBJECT} TO "{r}"'
    key, names, privileges = rng.choice(outside_schemas(u))
    return f'GRANT {", ".join(_some(rng, privileges))} ON {_KEYWORDS[key]} "{rng.choice(names)}" TO "{r}"{_option(rng)}'


def _pg_drift_other_defaults(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    """Default privileges of the object types beyond tables, sequences and functions."""
    choices = [f'IN SCHEMA "{s.name}" GRANT USAGE ON TYPES', "GRANT USAGE ON TYPES", "GRANT USAGE, CREATE ON SCHEMAS"]
    if u.major >= 18:
        choices.append("GRANT SELECT ON LARGE OBJECTS")
    creator = rng.choice([*s.creators, ""])
    scope = f'FOR ROLE "{creator}" ' if creator else ""
    return f'ALTER DEFAULT PRIVILEGES {scope}{rng.choice(choices)} TO "{r}"'


def owner_drift(rng: random.Random, u: Universe, owned: dict[str, str]) -> list[str]:
    """An object the manifest declares owned (in the connected database), handed to another role out of band."""
    keys = sorted(k for k in owned if not k.endswith(".*") and (k.split(".")[0] in {s.name for s in u.schemas}))
    if not keys or rng.random() < 0.4:
        return []
    key = rng.choice(keys)
    schema, _, name = key.partition(".")
    if not name:
        return [f'ALTER SCHEMA "{schema}" OWNER TO "{u.squatter}"']
    s = u.schema(schema)
    if name in s.tables + s.views:
        return [f'ALTER TABLE "{schema}"."{name}" OWNER TO "{u.squatter}"']
    if name in s.sequences:
        return [f'ALTER SEQUENCE "{schema}"."{name}" OWNER TO "{u.squatter}"']
    base, _, args = name.partition("(")
    return [f'ALTER ROUTINE "{schema}"."{base}"({args} OWNER TO "{u.squatter}"']


_PG_DRIFT = [_pg_drift_table, _pg_drift_table, _pg_drift_column, _pg_drift_schema, _pg_drift_database,
             _pg_drift_sequence_or_function, _pg_drift_grantor, _pg_drift_grantor, _pg_drift_default,
             _pg_drift_membership, _pg_drift_all, _pg_drift_setting, _pg_drift_admin, _pg_drift_type,
             _pg_drift_outside, _pg_drift_outside, _pg_drift_other_defaults]


def _account(u: Universe, r: str, roles: set[str]) -> str:
    return f"`{r}`" if r in roles else f"'{r}'@'%'"


def _maria_drift_table(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    table = rng.choice(s.tables + s.views)
    return f"GRANT {', '.join(_some(rng, MY_TABLE))} ON `{s.name}`.`{table}` TO {r}{_option(rng)}"


def _maria_drift_column(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    return (f"GRANT {rng.choice(MY_COLUMN)} ({', '.join(_some(rng, COLUMNS))}) ON `{s.name}`.`{rng.choice(s.tables)}` "
            f"TO {r}")


def _maria_drift_database(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    return f"GRANT {', '.join(_some(rng, MY_DATABASE))} ON `{s.name}`.* TO {r}{_option(rng)}"


def _maria_drift_global(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    return f"GRANT {', '.join(_some(rng, ('PROCESS', 'SELECT', 'RELOAD', 'SHOW DATABASES'), 2))} ON *.* TO {r}"


def _maria_drift_routine(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    if s.functions and (not s.procedures or rng.random() < 0.5):
        return f"GRANT EXECUTE ON FUNCTION `{s.name}`.`{rng.choice(s.functions)}` TO {r}"
    if s.procedures:
        return f"GRANT EXECUTE ON PROCEDURE `{s.name}`.`{rng.choice(s.procedures)}` TO {r}"
    return _maria_drift_table(rng, u, s, r)


def _maria_drift_membership(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    if len(u.bystanders) < 2:
        return _maria_drift_global(rng, u, s, r)
    return f"GRANT `{u.bystanders[1]}` TO {r}"


def _maria_drift_proxy(rng: random.Random, u: Universe, s: Schema, r: str) -> str:
    """PROXY on the admin's own account (which the admin may grant): `r` could log in as the admin. Roles
    (written `name`, no host) cannot proxy."""
    if not r.startswith("'"):
        return _maria_drift_global(rng, u, s, r)
    return f"GRANT PROXY ON {u.admin_account} TO {r}"


_MARIA_DRIFT = [_maria_drift_table, _maria_drift_table, _maria_drift_column, _maria_drift_database,
                _maria_drift_global, _maria_drift_routine, _maria_drift_membership, _maria_drift_proxy]
