"""The benchmark workload: schema `app` with T tables owned by `app_owner`; R non-login roles, each with USAGE
on `app`, SELECT on every table and default privileges for future tables; half of them also INSERT/UPDATE on
10 tables. Also the manifests and configurations that express it for provisioner, ldap2pg and pgbedrock, and
the check that a database holds exactly these privileges."""

from __future__ import annotations

from typing import Any

import yaml

WRITE_TABLES = 10


def role_name(i: int) -> str:
    return f"r{i:04d}"


def table_name(i: int) -> str:
    return f"t{i:04d}"


def create_schema_sql(tables: int) -> list[str]:
    return [
        "CREATE ROLE app_owner NOLOGIN",
        "CREATE SCHEMA app AUTHORIZATION app_owner",
        "SET ROLE app_owner",
        f"""DO $$ BEGIN FOR i IN 1..{tables} LOOP
              EXECUTE format('CREATE TABLE app.%I (id int)', 't' || lpad(i::text, 4, '0'));
            END LOOP; END $$""",
        "RESET ROLE",
        "REVOKE ALL ON SCHEMA public FROM PUBLIC",
    ]


def writers(roles: int) -> list[str]:
    return [role_name(i) for i in range(1, roles + 1) if i % 2 == 0]


def provisioner_manifest(target: str, database: str, url_env: str, roles: int, skip_grants: set[str] = frozenset(),
                         dropped: set[str] = frozenset(), first: int = 1) -> str:
    entries: list[dict[str, Any]] = []
    writing = set(writers(roles + first - 1))
    for i in range(first, first + roles):
        name = role_name(i)
        if name in dropped:
            continue
        grants: list[dict[str, Any]] = []
        if name not in skip_grants:
            grants.append({"privileges": ["USAGE"], "schemas": ["app"]})
            grants.append({"privileges": ["SELECT"], "tables": ["app.*"]})
            if name in writing:
                grants.append({"privileges": ["INSERT", "UPDATE"],
                               "tables": [f"app.{table_name(t)}" for t in range(1, WRITE_TABLES + 1)]})
        entries.append({"name": name, "target": target, "grants": grants})
    document = {"version": 1,
                "targets": {target: {"engine": "postgres", "database": database, "admin": {"url_env": url_env},
                                     "default_privileges_for": ["app_owner"]}},
                "roles": entries}
    return yaml.safe_dump(document, sort_keys=False)


CHECK_SQL = """
WITH r AS (SELECT rolname FROM pg_roles WHERE rolname ~ '^r[0-9]{4}$'),
     t AS (SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'app' AND c.relkind = 'r')
SELECT r.rolname,
       has_schema_privilege(r.rolname, 'app', 'USAGE') AS usage,
       (SELECT count(*) FROM t WHERE has_table_privilege(r.rolname, t.oid, 'SELECT')) AS selects,
       (SELECT count(*) FROM t WHERE t.relname <= %s AND has_table_privilege(r.rolname, t.oid, 'INSERT')
                                 AND has_table_privilege(r.rolname, t.oid, 'UPDATE')) AS writes,
       (SELECT count(*) FROM t WHERE has_table_privilege(r.rolname, t.oid, 'INSERT')) AS inserts_anywhere,
       EXISTS (SELECT 1 FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace,
               aclexplode(d.defaclacl) a
               WHERE n.nspname = 'app' AND d.defaclobjtype = 'r' AND a.privilege_type = 'SELECT'
                 AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = r.rolname)) AS defaults
FROM r
"""


def mismatches(rows: list[tuple[Any, ...]], roles: int, tables: int, skip_grants: set[str] = frozenset(),
               dropped: set[str] = frozenset(), extra_writes_ok: bool = False) -> list[str]:
    """What differs from the intended privileges (empty: exactly as intended)."""
    found = {row[0]: row[1:] for row in rows}
    writing = set(writers(roles))
    problems = []
    expected_roles = {role_name(i) for i in range(1, roles + 1)} - set(dropped)
    if set(found) != expected_roles:
        problems.append(f"roles: {len(found)} present, {len(expected_roles)} intended")
    for name in sorted(expected_roles & set(found)):
        usage, selects, writes, inserts, defaults = found[name]
        if name in skip_grants:
            want = (False, 0, 0, 0, False)
        else:
            write = WRITE_TABLES if name in writing else 0
            want = (True, tables, write, write, True)
        got = (usage, selects, writes, inserts, defaults)
        if extra_writes_ok:
            got, want = got[:3] + got[4:], want[:3] + want[4:]
        if got != want:
            problems.append(f"{name}: usage/select/write/insert/defaults {got} != {want}")
    return problems
