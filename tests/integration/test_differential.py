"""The differential test (SPEC 6): seeded random universes, manifests and out-of-band drift; after ONE apply every
(principal, object, privilege) cell the server answers (`has_*_privilege`, `pg_default_acl`, `pg_auth_members`;
MariaDB's grant tables) equals what the manifest alone says, bystanders are byte-identical, the plan is empty and
every secret logs in. Then the manifest mutates, new drift lands, one apply, and everything is compared again.

CI runs a fixed set of seeds per engine (PROVISIONER_DIFF_CASES, default 60 for MariaDB and 20 for PostgreSQL 15;
the matrix runs 12 on each of 14, 16, 17, 18); `make fuzz` runs thousands. A failure prints the seed, the manifest and
the drift SQL: a reproduction.
"""

from __future__ import annotations

import os
import random
import time

import pytest
from support.expected import (
    KIND_OF_KEY,
    Expected,
    creators,
    db_roles,
    declared_owners,
    expected,
    objects,
    owners_after,
    table_privileges,
)
from support.recorders import DIFFERENTIAL as TOTALS
from support.universe import (
    PG_COLUMN,
    PG_DATABASE,
    PG_SCHEMA,
    PG_SEQUENCE,
    Case,
    case,
    drift,
    mutate,
    other_drift,
    other_setup_sql,
    outside_schemas,
    owned_sql,
    setup_sql,
)

FIRST_SEED = int(os.environ.get("PROVISIONER_DIFF_SEED", "1"))
PG_CASES = int(os.environ.get("PROVISIONER_DIFF_CASES", "20"))
MARIA_CASES = int(os.environ.get("PROVISIONER_DIFF_CASES", "60"))


def _report(engine: str, cells: int, drift_statements: int, started: float) -> None:
    TOTALS[f"{engine} seconds"] += time.monotonic() - started
    TOTALS[f"{engine} cases"] += 1
    TOTALS[f"{engine} cells"] += cells
    TOTALS[f"{engine} drift"] += drift_statements


class Reproduction:
    """What a failing case prints: the seed, each manifest and the drift SQL, in order."""

    def __init__(self, seed: int) -> None:
        self.lines = [f"seed {seed} (PROVISIONER_DIFF_SEED={seed} PROVISIONER_DIFF_CASES=1)"]

    def add(self, title: str, text: str) -> None:
        self.lines += [f"--- {title}", text.rstrip()]

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _apply_round(env, c: Case, statements: list[str], repro: Reproduction, admin_secret: bool) -> None:
    repro.add("manifest", c.target_extra() + c.manifest(env.target))
    repro.add("drift", ";\n".join(statements))
    for statement in statements:
        env.sql(statement)
    env.manifest(c.manifest(env.target), admin_secret=admin_secret, target_extra=c.target_extra())
    result = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=None)
    assert result.code == 0, f"apply failed\n{result.text}\n{repro}"
    plan = env.cli("plan", "-f", "accounts.yaml", "--detailed-exitcode", expect=None)
    assert plan.code == 0, f"plan after ONE apply is not empty\n{plan.text}\n{repro}"


def _logins(env, exp: Expected, repro: Reproduction) -> None:
    for account in exp.logins:
        assert env.logs_in(account), f"the secret of {account} does not log in\n{repro}"


# ---------------------------------------------------------------- PostgreSQL

# A transfer of ownership rewrites the grantor of the grants the old owner made (they are the new owner's): the
# bystanders' snapshot names such a grantor "(owner)", so it compares what they hold and who else granted it.

PG_BYSTANDER_SNAPSHOT = """
SELECT 'role', r.rolname, r.rolsuper::text || r.rolinherit::text || r.rolcanlogin::text, '' FROM pg_roles r
 WHERE r.rolname = ANY(%(names)s)
UNION ALL SELECT 'member', m.roleid::regrole::text, m.member::regrole::text, '' FROM pg_auth_members m
 WHERE m.member::regrole::text = ANY(%(names)s)
UNION ALL SELECT 'rel', c.oid::regclass::text, x.privilege_type || x.is_grantable::text,
       CASE WHEN x.grantor = c.relowner THEN '(owner)' ELSE x.grantor::regrole::text END
 FROM pg_class c, aclexplode(c.relacl) x WHERE x.grantee::regrole::text = ANY(%(names)s)
UNION ALL SELECT 'col', c.oid::regclass::text || '.' || a.attname, x.privilege_type,
       CASE WHEN x.grantor = c.relowner THEN '(owner)' ELSE x.grantor::regrole::text END
 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid, aclexplode(a.attacl) x
 WHERE x.grantee::regrole::text = ANY(%(names)s)
UNION ALL SELECT 'nsp', n.nspname, x.privilege_type || x.is_grantable::text,
       CASE WHEN x.grantor = n.nspowner THEN '(owner)' ELSE x.grantor::regrole::text END
 FROM pg_namespace n, aclexplode(n.nspacl) x WHERE x.grantee::regrole::text = ANY(%(names)s)
UNION ALL SELECT 'proc', p.oid::regprocedure::text, x.privilege_type,
       CASE WHEN x.grantor = p.proowner THEN '(owner)' ELSE x.grantor::regrole::text END
 FROM pg_proc p, aclexplode(p.proacl) x WHERE x.grantee::regrole::text = ANY(%(names)s)
UNION ALL SELECT 'default', d.defaclrole::regrole::text,
       d.defaclobjtype::text || coalesce(d.defaclnamespace::regnamespace::text, ''),
       x.privilege_type FROM pg_default_acl d, aclexplode(d.defaclacl) x WHERE x.grantee::regrole::text = ANY(%(names)s)
ORDER BY 1, 2, 3, 4
"""


def _pg_cells(env, exp: Expected, c: Case, major: int, repro: Reproduction, late: dict[str, list[str]] | None = None,
              owners: dict[str, str] | None = None) -> int:
    """Every managed role x object x privilege, asked of the server in one query per kind (objects a managed role
    created after the apply are left out for it and its members: an owner holds everything)."""
    u = c.universe
    roles = sorted(exp.roles)
    public = _pg_public(env, c, major, late)
    asked: list[tuple[str, str, str, str]] = []  # (function, role, object, privilege)
    for s in _schemas(u):
        for table in objects(s, "table", late):
            asked += [("table", r, table, p) for r in roles for p in table_privileges(major)]
            asked += [("table", r, table, f"{p} WITH GRANT OPTION") for r in roles for p in ("SELECT", "UPDATE")]
            if late is None:
                asked += [("column", r, f"{table}.{col}", p) for r in roles for col in ("c0", "c1", "c2")
                          for p in PG_COLUMN]
        asked += [("sequence", r, q, p) for q in objects(s, "sequence", late) for r in roles for p in PG_SEQUENCE]
        asked += [("function", r, f, p) for f in objects(s, "function", late) for r in roles
                  for p in ("EXECUTE", "EXECUTE WITH GRANT OPTION")]
        asked += [("type", r, t, p) for t in objects(s, "type", late) for r in roles
                  for p in ("USAGE", "USAGE WITH GRANT OPTION")]
        if late is None:
            asked += [("schema", r, s.name, p) for r in roles for p in (*PG_SCHEMA, "USAGE WITH GRANT OPTION")]
    if late is None:
        asked += [("database", r, d, p) for d in _databases(u) for r in roles for p in PG_DATABASE]
        asked += [(KIND_OF_KEY[key], r, name, p) for key, names, privileges in outside_schemas(u) for name in names
                  for r in roles for p in privileges]
    # What a role owns (or a role it is a member of owns) it holds entirely: not asked (ownership is checked apart)
    owners = {**c.owned, **(owners or {})}
    asked = [a for a in asked if owners.get(_owned_key(a), "") not in exp.closure(a[1])]
    answers = _pg_ask(env, asked, u)
    wrong = []
    for (kind, role, obj, privilege), answer in zip(asked, answers, strict=True):
        want = _pg_want(exp, role, kind, obj, privilege, public)
        if answer != want:
            wrong.append(f"{role} {privilege} on {kind} {obj}: server {answer}, manifest {want}")
    assert not wrong, f"{len(wrong)} cell(s) differ on PostgreSQL {major}:\n" + "\n".join(wrong[:40]) + f"\n{repro}"
    return len(asked)


def _owned_key(a: tuple[str, str, str, str]) -> str:
    """The object whose owner decides a cell (a column's: its table's)."""
    return a[2].rsplit(".", 1)[0] if a[0] == "column" else a[2]


def _pg_want(exp: Expected, role: str, kind: str, obj: str, privilege: str, public: set[tuple[str, str, str]]
             ) -> bool:
    if privilege.endswith("WITH GRANT OPTION"):
        return False
    held = exp.effective(role)
    if kind == "column":
        table = obj.rsplit(".", 1)[0]
        return (("column", obj, privilege) in held or ("table", table, privilege) in held
                or ("table", table, privilege) in public)
    return (kind, obj, privilege) in held or (kind, obj, privilege) in public


CHECK = {"table": "has_table_privilege(r, o, p)", "sequence": "has_sequence_privilege(r, o, p)",
         "function": "has_function_privilege(r, o, p)", "schema": "has_schema_privilege(r, o, p)",
         "database": "has_database_privilege(r, o, p)", "type": "has_type_privilege(r, o, p)",
         "language": "has_language_privilege(r, o, p)",
         "foreign data wrapper": "has_foreign_data_wrapper_privilege(r, o, p)",
         "foreign server": "has_server_privilege(r, o, p)", "tablespace": "has_tablespace_privilege(r, o, p)",
         "parameter": "has_parameter_privilege(r, o, p)",
         "column": "has_column_privilege(r, substring(o from '^(.*)\\.[^.]*$'), substring(o from '[^.]*$'), p)"}


def _schemas(u) -> list:
    """The schemas of the connected database, and of the cluster's other database (asked there)."""
    return [*u.schemas, *([u.other] if u.other else [])]


def _databases(u) -> list[str]:
    return [u.database, *([u.other_database] if u.other_database else [])]


def _elsewhere(u, a: tuple[str, str, str, str]) -> bool:
    """Whether the object asked about is in the other database (its schema's name is unique to it)."""
    return u.other is not None and a[0] != "database" and (a[2] == u.other.name or a[2].startswith(u.other.name + "."))


def _pg_ask(env, asked: list[tuple[str, str, str, str]], u=None) -> list[bool]:
    """The server's answers, in the order asked (one query per kind and database)."""
    answers: dict[int, bool] = {}
    for database in ([u.database, u.other_database] if u is not None and u.other_database else [env.database]):
        elsewhere = database != env.database
        here = [(i, a) for i, a in enumerate(asked) if (u is not None and _elsewhere(u, a)) == elsewhere]
        for kind, check in CHECK.items():
            mine = [(i, a) for i, a in here if a[0] == kind]
            if not mine:
                continue
            rows = env.adapter.sql(
                env.server, database,
                f"SELECT i, {check} FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[]) AS x(i, r, o, p)",
                ([i for i, _ in mine], [a[1] for _, a in mine], [_pg_object(a) for _, a in mine],
                 [a[3] for _, a in mine]))
            answers.update({int(i): bool(v) for i, v in rows})
    return [answers[i] for i in range(len(asked))]


def _pg_object(a: tuple[str, str, str, str]) -> str:
    kind, _, obj, _ = a
    if kind not in ("table", "column", "sequence", "function", "type"):
        return obj  # a schema, or an object outside any schema: its name
    schema, _, rest = obj.partition(".")
    if kind == "column":
        table, _, column = rest.rpartition(".")
        return f'"{schema}"."{table}".{column}'
    if kind == "function":
        name, _, args = rest.partition("(")
        return f'"{schema}"."{name}"({args}'
    return f'"{schema}"."{rest}"'


def _pg_public_declared(env, c: Case, late: dict[str, list[str]] | None, repro: Reproduction) -> int:
    """What `public_privileges` declares, as the server answers for PUBLIC (late functions included)."""
    asked, wanted = [], []
    for key, want in (("revoke", False), ("grants", True)):
        for entry in c.public.get(key, []):
            kind = next(k for k in entry if k not in ("privileges", "database"))
            for name in entry[kind]:
                refs = (objects(c.universe.schema(name[:-2]), "function", late) if name.endswith(".*")
                        else [name])
                for ref in refs:
                    for p in entry["privileges"]:
                        asked.append(({"databases": "database", "schemas": "schema"}.get(kind, "function"),
                                      "public", ref, p))
                        wanted.append(want)
    answers = _pg_ask(env, asked, c.universe)
    wrong = [f"PUBLIC {a[3]} on {a[0]} {a[2]}: server {got}" for a, got, want in zip(asked, answers, wanted,
                                                                                   strict=True) if got != want]
    assert not wrong, "public_privileges not converged:\n" + "\n".join(wrong) + f"\n{repro}"
    return len(asked)


def _pg_public(env, c: Case, major: int, late: dict[str, list[str]] | None) -> set[tuple[str, str, str]]:
    """What PUBLIC holds, as the server says (checked against `public_privileges` apart)."""
    asked = []
    for s in _schemas(c.universe):
        asked += [("table", "public", t, p) for t in objects(s, "table", late) for p in table_privileges(major)]
        asked += [("sequence", "public", q, p) for q in objects(s, "sequence", late) for p in PG_SEQUENCE]
        asked += [("function", "public", f, "EXECUTE") for f in objects(s, "function", late)]
        asked += [("type", "public", t, "USAGE") for t in objects(s, "type", late)]
        asked += [("schema", "public", s.name, p) for p in PG_SCHEMA]
    asked += [("database", "public", d, p) for d in _databases(c.universe) for p in PG_DATABASE]
    asked += [(KIND_OF_KEY[key], "public", name, p) for key, names, privileges in outside_schemas(c.universe)
              for name in names for p in privileges]
    answers = _pg_ask(env, asked, c.universe)
    return {(kind, obj, p) for (kind, _, obj, p), yes in zip(asked, answers, strict=True) if yes}


def _pg_structure(env, exp: Expected, c: Case, admin: str, repro: Reproduction) -> int:
    roles = sorted(exp.roles)
    found = {(str(g), str(m)) for g, m in env.sql(
        "SELECT m.roleid::regrole::text, m.member::regrole::text FROM pg_auth_members m "
        "WHERE m.member::regrole::text = ANY(%s)", (roles,))}
    want = {(g, m) for g, m in exp.members}
    assert {(g.strip('"'), m.strip('"')) for g, m in found} == want, f"memberships differ\n{repro}"
    held = {(str(g).strip('"'), str(m).strip('"')): {"admin": a, "inherit": i, "set": s} for g, m, a, i, s in env.sql(
        "SELECT m.roleid::regrole::text, m.member::regrole::text, m.admin_option, "
        "(to_jsonb(m) ->> 'inherit_option')::bool, (to_jsonb(m) ->> 'set_option')::bool "
        "FROM pg_auth_members m WHERE m.member::regrole::text = ANY(%s)", (roles,))}
    for edge, options in exp.options.items():
        differing = {k: v for k, v in options.items() if held.get(edge, {}).get(k) != v}
        assert not differing, f"membership {edge} options differ: {differing} (server {held.get(edge)})\n{repro}"
    kinds = {"r": "table", "S": "sequence", "f": "function", "T": "type", "n": "schema", "L": "large object"}
    defaults = {(str(o).strip('"'), str(n).strip('"'), kinds.get(str(t), str(t)), str(g).strip('"'), str(p))
                for database in _databases(c.universe) for o, n, t, g, p in env.adapter.sql(env.server, database,
        "SELECT d.defaclrole::regrole::text, coalesce(d.defaclnamespace::regnamespace::text, ''), d.defaclobjtype, "
        "x.grantee::regrole::text, x.privilege_type FROM pg_default_acl d, aclexplode(d.defaclacl) x "
        "WHERE x.grantee::regrole::text = ANY(%s) AND x.grantee <> d.defaclrole", (roles,))}
    want_defaults = {(admin if o == "ADMIN" else o, n, k, g, p) for o, n, k, g, p in exp.defaults}
    assert defaults == want_defaults, (f"default privileges differ: extra {sorted(defaults - want_defaults)}, "
                                       f"missing {sorted(want_defaults - defaults)}\n{repro}")
    for role in exp.gone:
        assert not env.role_exists(role), f"{role} should be gone\n{repro}"
    held_objects = [row for database in _databases(c.universe) for row in env.adapter.sql(
        env.server, database, "SELECT x.grantee::regrole::text FROM pg_largeobject_metadata, aclexplode(lomacl) x "
        "WHERE x.grantee::regrole::text = ANY(%s)", (roles,))]
    assert not held_objects, f"managed roles hold privileges on a large object: {held_objects}\n{repro}"
    _pg_owners(env, c, repro)
    for p in (p for p in c.principals if p.owns and p.state == "absent"):
        for database in _databases(c.universe):
            owners = env.adapter.sql(env.server, database, "SELECT pg_get_userbyid(relowner) FROM pg_class "
                                                           "WHERE relname = %s", (f"{p.name}_own",))
            assert owners == [(f"{c.universe.prefix}heir",)], f"{p.name}_own in {database}: {owners}\n{repro}"
    settings = {(str(r), str(cfg)) for r, cfg in env.sql(
        "SELECT r.rolname, c FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole, unnest(s.setconfig) c "
        "WHERE r.rolname = ANY(%s) AND c NOT LIKE 'role=%%'", (roles,))}
    assert settings == exp.settings, f"role settings differ: {sorted(settings)} != {sorted(exp.settings)}\n{repro}"
    return len(found) + len(defaults) + len(settings)


OWNERS = """
SELECT n.nspname, pg_get_userbyid(n.nspowner) FROM pg_namespace n WHERE n.nspname = ANY(%(schemas)s)
UNION ALL SELECT n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner) FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'v', 'S')
UNION ALL SELECT n.nspname || '.' || p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')',
       pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = ANY(%(schemas)s)
"""


def _pg_owners(env, c: Case, repro: Reproduction) -> None:
    """Every object the manifests declared owned belongs to the role that declared it last (or its heir)."""
    if not c.owned:
        return
    found: dict[str, str] = {}
    u = c.universe
    for database in _databases(u):
        schemas = [u.other.name] if database != u.database and u.other else [s.name for s in u.schemas]
        found.update({str(name): str(owner) for name, owner in env.adapter.sql(
            env.server, database, OWNERS, {"schemas": schemas})})
    wrong = {obj: (found.get(obj), owner) for obj, owner in c.owned.items() if found.get(obj) != owner}
    assert not wrong, f"owners differ (server, manifest): {wrong}\n{repro}"


def _pg_late_objects(env, c: Case, admin: str, rnd: int, owners: dict[str, str]) -> dict[str, list[str]]:
    """Objects each creator of each schema makes after the apply: `schema.*` must reach them."""
    late: dict[str, list[str]] = {}
    for s in c.universe.schemas:
        for i, creator in enumerate(creators(c, s)):
            role = admin if creator == "ADMIN" else creator
            name = f"late{rnd}_{i}"
            env.sql(f'SET ROLE "{role}"; CREATE TABLE "{s.name}"."{name}" (c0 int); '
                    f'CREATE SEQUENCE "{s.name}"."{name}_q"; '
                    f'CREATE FUNCTION "{s.name}"."{name}_f"() RETURNS int LANGUAGE sql AS \'SELECT 1\'; '
                    f'CREATE TYPE "{s.name}"."{name}_ty" AS ENUM (\'a\'); RESET ROLE')
            late.setdefault(f"{s.name}:table", []).append(name)
            late.setdefault(f"{s.name}:sequence", []).append(f"{name}_q")
            late.setdefault(f"{s.name}:function", []).append(f"{name}_f()")
            late.setdefault(f"{s.name}:type", []).append(f"{name}_ty")
            owners.update({f"{s.name}.{name}": role, f"{s.name}.{name}_q": role, f"{s.name}.{name}_f()": role,
                           f"{s.name}.{name}_ty": role})
    return late


def _pg_drop_late(env, c: Case, late: dict[str, list[str]]) -> None:
    for key, names in late.items():
        schema, kind = key.split(":")
        word = {"table": "TABLE", "sequence": "SEQUENCE", "function": "FUNCTION", "type": "TYPE"}[kind]
        for name in names:
            env.sql(f'DROP {word} "{schema}".{_quoted(name)}')


def _quoted(name: str) -> str:
    base, paren, rest = name.partition("(")
    return f'"{base}"{paren}{rest}'


def _existing_roles(env, c: Case) -> list[str]:
    names = [r for p in c.principals for r in {db_roles(p, "postgres")[0], *db_roles(p, "postgres")[1]}]
    return [n for n in names if env.role_exists(n)]


def _pg_round(env, c: Case, rng: random.Random, repro: Reproduction, major: int, rnd: int) -> tuple[int, int]:
    admin = env.server.user
    bystanders = [*c.universe.bystanders, c.universe.grantor]
    before = env.sql(PG_BYSTANDER_SNAPSHOT, {"names": bystanders})
    # ownership drift only on what this manifest declares (an object no longer declared stays with whoever has it)
    statements = drift(rng, c.universe, _existing_roles(env, c), declared_owners(c))
    elsewhere = other_drift(rng, c.universe, _existing_roles(env, c))
    repro.add(f"drift in {c.universe.other_database}", ";\n".join(elsewhere))
    for statement in elsewhere:
        env.adapter.sql(env.server, c.universe.other_database, statement, ())
    alternating = any(p.strategy == "alternating" for p in c.principals)
    _apply_round(env, c, statements, repro, admin_secret=alternating)
    c.owned = owners_after(c)
    exp = expected(c, major)
    cells = _pg_cells(env, exp, c, major, repro) + _pg_structure(env, exp, c, admin, repro)
    assert env.sql(PG_BYSTANDER_SNAPSHOT, {"names": bystanders}) == before, f"a bystander changed\n{repro}"
    _logins(env, exp, repro)
    owners: dict[str, str] = {}
    late = _pg_late_objects(env, c, admin, rnd, owners)
    cells += _pg_cells(env, expected(c, major, late), c, major, repro, late, owners)
    cells += _pg_public_declared(env, c, late, repro)
    plan = env.cli("plan", "-f", "accounts.yaml", "--detailed-exitcode", expect=None)
    assert plan.code == 0, f"plan after objects were created is not empty\n{plan.text}\n{repro}"
    _pg_drop_late(env, c, late)
    return cells, len(statements) + len(elsewhere)


def _seeded(env, seed: int, engine: str, major: int, existing: str) -> tuple[Case, Reproduction, random.Random]:
    """The case of a seed with its universe set up and the principals that existed before created."""
    c = case(seed, engine, "x", env.database, major)
    repro = Reproduction(seed)
    setup = setup_sql(c.universe, env.server.user)
    repro.add("universe", ";\n".join(setup))
    for statement in setup + [existing.format(name=p.name, seed=seed) for p in c.principals if p.existed]:
        env.sql(statement)
    u = c.universe
    if u.other_database:
        env.adapter.create_database(env.server, u.other_database)
        other = other_setup_sql(u)
        repro.add(f"universe in {u.other_database}", ";\n".join(other))
        for statement in other:
            env.adapter.sql(env.server, u.other_database, statement, ())
    for p in (p for p in c.principals if p.owns):
        for database in _databases(u):
            owned = owned_sql(u, p.name, database != u.database)
            repro.add(f"owned by {p.name} in {database}", ";\n".join(owned))
            for statement in owned:
                env.adapter.sql(env.server, database, statement, ())
            # a table of its schema like any other from now on (`schema.*` grants and ownership reach it)
            schema = u.other if database != u.database and u.other else u.schemas[0]
            schema.tables.append(f"{p.name}_own")
    return c, repro, random.Random(seed * 7919)


def _pg_case(env, seed: int) -> None:
    started = time.monotonic()
    major = int(env.sql("SHOW server_version_num")[0][0]) // 10000
    c, repro, rng = _seeded(env, seed, "postgres", major, 'CREATE ROLE "{name}" LOGIN')
    try:
        cells, statements = _pg_round(env, c, rng, repro, major, 1)
        mutated = mutate(rng, c)
        more_cells, more = _pg_round(env, mutated, rng, repro, major, 2)
    finally:
        if c.universe.other_database:
            env.adapter.sql(env.server, "postgres", f'DROP DATABASE IF EXISTS "{c.universe.other_database}" '
                                                    f'WITH (FORCE)', ())
    _report(f"PostgreSQL {major}", cells + more_cells, statements + more, started)


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + PG_CASES))
def test_postgres_converges_in_one_apply_under_random_drift(env, pg_tablespace, seed):
    _pg_case(env, seed)


# ---------------------------------------------------------------- MariaDB

MARIA_LEVELS = {
    "db": "SELECT GRANTEE, TABLE_SCHEMA, '', '', PRIVILEGE_TYPE, IS_GRANTABLE "
          "FROM information_schema.SCHEMA_PRIVILEGES",
    "table": "SELECT GRANTEE, TABLE_SCHEMA, TABLE_NAME, '', PRIVILEGE_TYPE, IS_GRANTABLE "
             "FROM information_schema.TABLE_PRIVILEGES",
    "column": "SELECT GRANTEE, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, PRIVILEGE_TYPE, IS_GRANTABLE "
              "FROM information_schema.COLUMN_PRIVILEGES",
    "global": "SELECT GRANTEE, '', '', '', PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES "
              "WHERE PRIVILEGE_TYPE <> 'USAGE'",
}


def _grantee(name: str, login: bool) -> str:
    return f"'{name}'@'%'" if login else f"'{name}'@''"


def _maria_rows(env, grantees: set[str]) -> set[tuple[str, ...]]:
    rows: set[tuple[str, ...]] = set()
    for level, query in MARIA_LEVELS.items():
        rows |= {(level, *map(str, r)) for r in env.sql(query) if str(r[0]) in grantees}
    for user, host, db, name, kind, privs in env.sql(
            "SELECT User, Host, Db, Routine_name, Routine_type, Proc_priv FROM mysql.procs_priv"):
        grantee = f"'{user}'@'{host}'"
        if grantee in grantees:
            for p in (privs if isinstance(privs, (set, frozenset)) else str(privs).split(",")):
                if p:
                    rows.add(("routine", grantee, str(db), str(name), str(kind), str(p).upper(), ""))
    return rows


def _maria_expected(c: Case, exp: Expected) -> tuple[set[tuple[str, ...]], set[str]]:
    want: set[tuple[str, ...]] = set()
    grantees: set[str] = set()
    for p in c.principals:
        if p.state != "present":
            continue
        names = db_roles(p, "mariadb")[1] or [p.name]
        for name in names:
            grantee = _grantee(name, p.login)
            grantees.add(grantee)
            for kind, obj, privilege in exp.roles[db_roles(p, "mariadb")[0]]:
                want.add(_maria_row(c, grantee, kind, obj, privilege))
    return want, grantees


def _maria_row(c: Case, grantee: str, kind: str, obj: str, privilege: str) -> tuple[str, ...]:
    schema, _, rest = obj.partition(".")
    if kind == "table" and rest == "*":
        return ("db", grantee, schema, "", "", privilege, "NO")
    if kind == "table":
        return ("table", grantee, schema, rest, "", privilege, "NO")
    if kind == "column":
        table, _, column = rest.rpartition(".")
        return ("column", grantee, schema, table, column, privilege, "NO")
    return ("routine", grantee, schema, rest, kind.upper(), privilege, "")


def _maria_round(env, c: Case, rng: random.Random, repro: Reproduction) -> tuple[int, int]:
    bystanders = c.universe.bystanders
    snapshot = [f"'{bystanders[0]}'@'%'", *(f"`{b}`" for b in bystanders[1:])]
    before = [env.sql(f"SHOW GRANTS FOR {b}") for b in snapshot]
    existing = [f"'{name}'@'%'" if p.login else f"`{name}`" for p in c.principals
                for name in db_roles(p, "mariadb")[1] or [p.name] if env.role_exists(name)]
    statements = drift(rng, c.universe, existing)
    alternating = any(p.strategy == "alternating" for p in c.principals)
    _apply_round(env, c, statements, repro, admin_secret=alternating)
    exp = expected(c, 0)
    want, grantees = _maria_expected(c, exp)
    found = _maria_rows(env, grantees)
    assert found == want, (f"grant tables differ on MariaDB: extra {sorted(found - want)}, "
                           f"missing {sorted(want - found)}\n{repro}")
    edges = {(str(u), str(r)) for u, h, r in env.sql("SELECT User, Host, Role FROM mysql.roles_mapping")
             if f"'{u}'@'{h}'" in grantees}
    users = {db_roles(p, "mariadb")[0]: db_roles(p, "mariadb")[1] or [p.name] for p in c.principals
             if p.state == "present"}
    want_edges = {(user, role) for role, holder in exp.members for user in users.get(holder, [])}
    assert edges == want_edges, f"role memberships differ: {sorted(edges)} != {sorted(want_edges)}\n{repro}"
    for role in exp.gone:
        assert not env.role_exists(role), f"{role} should be gone\n{repro}"
    proxies = [f"'{u}'@'{h}'" for u, h in env.sql("SELECT User, Host FROM mysql.proxies_priv")]
    assert not set(proxies) & grantees, f"managed accounts may proxy: {proxies}\n{repro}"
    assert [env.sql(f"SHOW GRANTS FOR {b}") for b in snapshot] == before, f"a bystander changed\n{repro}"
    _logins(env, exp, repro)
    return len(found) + len(edges), len(statements)


def _maria_case(env, seed: int) -> None:
    started = time.monotonic()
    c, repro, rng = _seeded(env, seed, "mariadb", 0, "CREATE USER '{name}'@'%' IDENTIFIED BY 'existed-{seed}'")
    user, host = str(env.sql("SELECT CURRENT_USER()")[0][0]).rsplit("@", 1)
    c.universe.admin_account = f"'{user}'@'{host}'"
    cells, statements = _maria_round(env, c, rng, repro)
    more_cells, more = _maria_round(env, mutate(rng, c), rng, repro)
    _report("MariaDB", cells + more_cells, statements + more, started)


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + MARIA_CASES))
def test_mariadb_converges_in_one_apply_under_random_drift(menv, seed):
    _maria_case(menv, seed)

