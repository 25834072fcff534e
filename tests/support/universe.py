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
        out["grants"] = self.grants
        return out


@dataclass
class Case:
    seed: int
    universe: Universe
    principals: list[Principal]
    public: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # PostgreSQL public_privileges

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
    roles = {*u.bystanders, u.grantor, f"{p}migrator", f"{p}schemaowner", f"{p}dbowner"}
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
        out.append(f'GRANT USAGE ON SCHEMA "{s.name}" TO "{u.grantor}"')
        out.append(f'GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA "{s.name}" TO "{u.grantor}" WITH GRANT OPTION')
        for creator in s.creators:
            out.append(f'GRANT USAGE, CREATE ON SCHEMA "{s.name}" TO "{creator}"')
        if s.tables:
            out.append(f'GRANT SELECT ON "{s.name}"."{s.tables[0]}" TO "{u.bystanders[0]}"')
    out.append(f'GRANT "{u.bystanders[0]}" TO "{u.grantor}"')
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
    return [f'CREATE TABLE "{schema}"."{role}_own" (c0 int)', f'ALTER TABLE "{schema}"."{role}_own" OWNER TO "{role}"']


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
    if u.iam:
        chosen = rng.choice(accounts)
        chosen.auth, chosen.strategy = "iam", "single"  # no password: nothing to rotate
    gone = Principal(f"{prefix}gone", True, [], state="absent", existed=rng.random() < 0.5)
    if engine == "postgres" and gone.existed and rng.random() < 0.6:
        gone.owns = True
        gone.retire = {"reassign_owned_to": f"{prefix}heir", "terminate_sessions": rng.random() < 0.5}
    return Case(seed, u, roles + accounts + [gone], public_privileges(rng, u))


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


_PG_GRANTS = [_pg_tables, _pg_tables, _pg_columns, _pg_sequences, _pg_functions, _pg_schema, _pg_database]
_MARIA_GRANTS = [_maria_tables, _maria_tables, _maria_columns, _maria_routines]


def mutate(rng: random.Random, c: Case) -> Case:
    """The next manifest: grants rewritten, a principal gone or added, a strategy switched, a role joined."""
    principals = [Principal(p.name, p.login, list(p.grants), list(p.member_of), p.strategy, p.state, p.existed,
                            dict(p.settings), dict(p.options), p.owns, dict(p.retire), p.auth) for p in c.principals]
    present = [p for p in principals if p.state == "present"]
    for p in rng.sample(present, rng.randint(1, len(present))):
        p.grants = grants(rng, c.universe)
        p.settings = settings(rng, c.universe.engine)
    accounts = [p for p in present if p.login]
    for p in accounts:
        if p.member_of and rng.random() < 0.6:
            p.options = membership_options(rng, p.member_of, c.universe.engine, c.universe.major)
    if accounts and rng.random() < 0.4:
        switched = rng.choice(accounts)
        switched.strategy = "single" if switched.strategy == "alternating" else "alternating"
    if c.universe.iam and accounts and rng.random() < 0.5:
        switched = rng.choice(accounts)
        switched.auth = "password" if switched.auth == "iam" else "iam"
    for p in accounts:
        if p.auth == "iam":
            p.strategy = "single"
    if len(present) > 1 and rng.random() < 0.5:
        leaving = rng.choice(present)
        if rng.random() < 0.5:
            leaving.state = "absent"
        else:
            principals.remove(leaving)
        for p in principals:
            p.member_of = [r for r in p.member_of if r != leaving.name]
    if rng.random() < 0.5:
        principals.append(Principal(f"{c.universe.prefix}new", True, grants(rng, c.universe)))
    public = c.public if rng.random() < 0.7 else public_privileges(rng, c.universe)
    return Case(c.seed, c.universe, principals, public)


# ---------------------------------------------------------------- drift


def drift(rng: random.Random, u: Universe, targets: list[str]) -> list[str]:
    """Out-of-band statements on the managed roles `targets` (roles that exist now)."""
    if not targets:
        return []
    makers = _PG_DRIFT if u.engine == "postgres" else _MARIA_DRIFT
    return [rng.choice(makers)(rng, u, rng.choice(u.schemas), rng.choice(targets)) for _ in range(rng.randint(2, 7))]


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
    table = rng.choice(s.tables)
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


_PG_DRIFT = [_pg_drift_table, _pg_drift_table, _pg_drift_column, _pg_drift_schema, _pg_drift_database,
             _pg_drift_sequence_or_function, _pg_drift_grantor, _pg_drift_grantor, _pg_drift_default,
             _pg_drift_membership, _pg_drift_all, _pg_drift_setting, _pg_drift_admin]


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


_MARIA_DRIFT = [_maria_drift_table, _maria_drift_table, _maria_drift_column, _maria_drift_database,
                _maria_drift_global, _maria_drift_routine, _maria_drift_membership]
