"""The rest of `make bench`: secrets at scale (1,000 login accounts against moto's server), many targets
planned in parallel, and the workload on MariaDB (provisioner only: the peers are PostgreSQL tools)."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import pymysql
import workload
import yaml
from measure import timed

from devtools import sandbox

FIGURES: dict[str, float] = {}  # what the targets table (targets.py) reads


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    seconds, _, out = timed([sys.executable, "-m", "provisioner", *args], env, cwd)
    return seconds, out


def secrets_at_scale(server, work: Path, accounts: int = 1000) -> list[str]:
    server.reset("secrets", 10)
    env = {**os.environ, **server.aws.environment(), "SECRETS_URL": server.pg.url("secrets")}
    manifest = {"version": 1, "targets": {"fleet": {"engine": "postgres", "database": "secrets",
                                                    "admin": {"url_env": "SECRETS_URL"}}},
                "defaults": {"rotation": {"strategy": "none"}},
                "accounts": [{"name": f"svc_{i:04d}", "target": "fleet",
                              "grants": [{"privileges": ["SELECT"], "tables": ["app.t0001"]}]}
                             for i in range(accounts)]}
    (work / "fleet.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    apply_s, out = _cli(["apply", "--yes", "-f", "fleet.yaml"], env, work)
    apply_calls = int(out.rsplit("(", 1)[1].split()[0])
    plan_s, out = _cli(["plan", "-f", "fleet.yaml", "--format", "json"], env, work)
    document = json.loads(out)
    plan_calls = document["targets"][0]["secrets_manager_calls"]
    assert not document["has_changes"], "the second plan of the fleet is not empty"
    # The apply's calls less the shared read a no-op plan makes too (ListSecrets pages, BatchGetSecretValue).
    FIGURES["calls_per_account"] = (apply_calls - plan_calls) / accounts
    # The same accounts with single-user rotation (run locally by `rotate`: four steps each, under the lock).
    manifest["defaults"] = {"rotation": {"strategy": "single"}}
    (work / "fleet.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    _cli(["apply", "--yes", "-f", "fleet.yaml"], env, work)
    parallelism = 8
    rotate_s, _ = _cli(["rotate", "-f", "fleet.yaml", "--all", "--parallelism", str(parallelism)], env, work)
    FIGURES.update(rotate_all=rotate_s, rotated=accounts, rotate_parallelism=parallelism)
    return [f"| {accounts} login accounts with secrets | apply | {apply_s:.1f} s | {apply_calls} |",
            f"| | no-op plan | {plan_s:.1f} s | {plan_calls} (ListSecrets pages + BatchGetSecretValue, 20 a call) |",
            f"| | rotate --all --parallelism {parallelism} | {rotate_s:.1f} s | four steps per account |"]


def many_targets(server, work: Path, count: int = 20, roles: int = 25, tables: int = 200) -> list[str]:
    env = {**os.environ, **server.aws.environment()}
    targets = {}
    accounts = []
    for k in range(count):
        database = f"fleet{k:02d}"
        if k == 0:
            server.reset(database, tables)  # a clean server: every earlier database and role gone
        else:
            with server.connect("postgres") as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
            with server.connect(database) as conn:
                for statement in workload.create_schema_sql(tables):
                    if "CREATE ROLE app_owner" not in statement:
                        conn.execute(statement)
        env[f"FLEET_URL_{k}"] = server.pg.url(database)
        part = yaml.safe_load(workload.provisioner_manifest(f"db{k:02d}", database, f"FLEET_URL_{k}", roles,
                                                           first=1 + k * roles))
        targets.update(part["targets"])
        accounts += part["roles"]
    (work / "targets.yaml").write_text(yaml.safe_dump({"version": 1, "targets": targets, "roles": accounts}))
    _cli(["apply", "--yes", "-f", "targets.yaml", "--parallelism", "8"], env, work)
    singles = [_cli(["plan", "-f", "targets.yaml", "--target", f"db{k:02d}"], env, work)[0] for k in range(count)]
    sequential = _cli(["plan", "-f", "targets.yaml", "--parallelism", "1"], env, work)[0]
    parallel = statistics.median(_cli(["plan", "-f", "targets.yaml", "--parallelism", str(count)], env, work)[0]
                                 for _ in range(3))
    FIGURES.update(parallel=parallel, slowest=max(singles))
    return [f"| {count} targets ({roles} roles x {tables} tables each) | plan, one target at a time "
            f"(--parallelism 1) | {sequential:.1f} s | sum of single-target plans: {sum(singles):.1f} s |",
            f"| | plan, --parallelism {count} | {parallel:.1f} s | slowest single-target plan: {max(singles):.1f} s |"]


def mariadb(work: Path, roles: int = 200, tables: int = 1000) -> list[str]:
    server = sandbox.start_mariadb()
    try:
        with pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                             autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE app")
            for i in range(1, tables + 1):
                cur.execute(f"CREATE TABLE app.{workload.table_name(i)} (id INT)")
        writing = set(workload.writers(roles))
        manifest = {"version": 1, "targets": {"maria": {"engine": "mariadb", "database": "app",
                                                        "admin": {"url_env": "MARIA_URL"}}},
                    "roles": [{"name": workload.role_name(i), "target": "maria",
                               "grants": [{"privileges": ["SELECT"], "tables": ["app.*"]}] + (
                                   [{"privileges": ["INSERT", "UPDATE"],
                                     "tables": [f"app.{workload.table_name(t)}" for t in range(1, 11)]}]
                                   if workload.role_name(i) in writing else [])}
                              for i in range(1, roles + 1)]}
        (work / "maria.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        env = {**os.environ, "MARIA_URL": server.url("app")}  # AWS_* point at the benchmark's moto server
        first, _ = _cli(["apply", "--yes", "-f", "maria.yaml"], env, work)
        plans = [_cli(["plan", "-f", "maria.yaml", "--format", "json"], env, work) for _ in range(3)]
        document = json.loads(plans[-1][1])
        with pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password
                             ) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM mysql.db WHERE Db = 'app' AND User LIKE 'r%%' AND Select_priv = 'Y'")
            database_grants = cur.fetchone()[0]
            cur.execute("SELECT COUNT(*) FROM mysql.tables_priv WHERE Db = 'app' AND Table_priv = 'Insert,Update'")
            table_grants = cur.fetchone()[0]
        exact = database_grants == roles and table_grants == len(writing) * 10 and not document["has_changes"]
        return [f"| MariaDB, {roles} roles x {tables} tables | first apply | {first:.1f} s | "
                f"{'exact' if exact else 'MISMATCH'} ({database_grants} db-level, {table_grants} table grants) |",
                f"| | no-op plan (median of 3) | {statistics.median(p[0] for p in plans):.2f} s | "
                f"{document['targets'][0]['catalog_queries']} catalog queries, changes: "
                f"{sum(document['summary'].values())} |"]
    finally:
        server.stop()


def extras(server, work: Path, deadline: float) -> str:
    lines = ["| part | scenario | time | notes |", "|---|---|---:|---|"]
    os.environ.update(server.aws.environment())
    started = time.monotonic()
    lines += secrets_at_scale(server, work)
    lines += many_targets(server, work)
    lines += mariadb(work)
    lines.append(f"| | (extras took {time.monotonic() - started:.0f} s) | | |")
    return "\n".join(lines)
