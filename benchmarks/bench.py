"""`make bench`: provisioner side by side with ldap2pg 5.9 and pgbedrock 0.4.2 on the same throwaway
PostgreSQL, plus MariaDB, secrets at scale and many targets. Prints one table per part.

Each tool runs as a subprocess; wall time is the median of several runs for repeatable scenarios (first apply
and the state-changing scenarios run once), peak RSS comes from wait4(), statements from PostgreSQL's
statement log (log_statement=all), and after every run the database is checked against the intended
privileges. A no-op run that reports changes is flagged as a perpetual diff.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import targets
import workload
from measure import Stopped, timed

from devtools import sandbox

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "benchmarks" / ".venv-peers"
SCENARIOS = ["first apply", "no-op plan", "no-op apply", "table added", "grants removed", "role dropped"]
REPEATED = {"no-op plan", "no-op apply"}


@dataclass
class Result:
    tool: str
    size: str
    scenario: str
    seconds: float
    rss_mb: float
    statements: int
    changes: int | None
    problems: list[str] = field(default_factory=list)
    note: str = ""


def ensure_peers() -> bool:
    """ldap2pg 5.9 and pgbedrock 0.4.2 in their own virtual environment (never the project's)."""
    if (PEERS / "bin" / "ldap2pg").exists() and (PEERS / "bin" / "pgbedrock").exists():
        return True
    if os.geteuid() == 0 and shutil.which("apt-get") and subprocess.run(
            ["dpkg", "-s", "libldap2-dev", "libsasl2-dev"], capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "libldap2-dev", "libsasl2-dev"], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    done = subprocess.run([str(PEERS / "bin" / "pip"), "install", "-q", "ldap2pg==5.9", "pgbedrock==0.4.2",
                           "psycopg2-binary"], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"peers not installed: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return False
    return True


class Server:
    def __init__(self) -> None:
        self.pg = sandbox.start_postgres(settings={"log_statement": "all", "log_line_prefix": "'%m [%p] '"})
        self.admin = dict(host=self.pg.host, port=self.pg.port, user=self.pg.user, password=self.pg.password)

    def statements_logged(self) -> int:
        text = self.pg.log_file.read_text(errors="replace") if self.pg.log_file else ""
        return len(re.findall(r"LOG:  (?:statement|execute [^:]*):", text))

    def reset(self, database: str, tables: int) -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **self.admin) as conn:
            for (name,) in conn.execute("SELECT datname FROM pg_database WHERE NOT datistemplate "
                                        "AND datname <> 'postgres'").fetchall():
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            for (role,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' "
                                        "AND rolname <> current_user").fetchall():
                conn.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(role)))
            conn.execute(f'CREATE DATABASE "{database}"')
        with psycopg.connect(dbname=database, autocommit=True, **self.admin) as conn:
            for statement in workload.create_schema_sql(tables):
                conn.execute(statement)

    def connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(dbname=database, autocommit=True, **self.admin)

    def sql(self, database: str, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(dbname=database, autocommit=True, **self.admin) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []


# ---------------------------------------------------------------- the tools


class Tool:
    name = ""

    def __init__(self, server: Server, database: str, roles: int, tables: int, work: Path) -> None:
        self.server, self.database, self.roles, self.tables, self.work = server, database, roles, tables, work
        self.skip: set[str] = set()
        self.dropped: set[str] = set()

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def configure(self) -> None: ...

    limit: float | None = None  # seconds before a run is stopped (the peers' first apply at the large size)

    def run(self, apply: bool) -> tuple[float, float, int | None]:
        raise NotImplementedError


class Provisioner(Tool):
    name = "provisioner"

    def env(self) -> dict[str, str]:
        url = self.server.pg.url(self.database)
        return {**os.environ, **self.server.aws.environment(), "BENCH_URL": url}

    def configure(self) -> None:
        (self.work / "accounts.yaml").write_text(workload.provisioner_manifest(
            "bench", self.database, "BENCH_URL", self.roles, self.skip, self.dropped))

    def run(self, apply: bool) -> tuple[float, float, int | None]:
        args = ["apply", "--yes"] if apply else ["plan"]
        elapsed, rss, out = timed([sys.executable, "-m", "provisioner", *args, "-f", "accounts.yaml",
                                   "--format", "json"], self.env(), self.work)
        document = json.loads(out[out.index("{"):out.rindex("}") + 1])
        return elapsed, rss, sum(document["summary"].values())


class Ldap2pg(Tool):
    name = "ldap2pg 5.9"

    def env(self) -> dict[str, str]:
        a = self.server.admin
        return {**os.environ, "PGHOST": a["host"], "PGPORT": str(a["port"]), "PGUSER": a["user"],
                "PGPASSWORD": a["password"], "PGDATABASE": self.database}

    def configure(self) -> None:
        roles = [workload.role_name(i) for i in range(1, self.roles + 1)
                 if workload.role_name(i) not in self.dropped]
        readers = [r for r in roles if r not in self.skip]
        writers = [r for r in workload.writers(self.roles) if r in readers]
        # {schema} in the SQL makes ldap2pg treat the privilege as per-schema (it formats it as "app")
        tables = ", ".join(f"{{schema}}.{workload.table_name(i)}" for i in range(1, workload.WRITE_TABLES + 1))
        names = ", ".join(f"'{workload.table_name(i)}'" for i in range(1, workload.WRITE_TABLES + 1))
        pairs = workload.WRITE_TABLES * 2
        # The owner is managed too (see below); declare what it holds as owner, or ldap2pg revokes it.
        grants = [{"privilege": "reader", "roles": ["app_owner", *readers], "schema": "app"}]
        if writers:
            grants.append({"privilege": "writer", "roles": writers, "schema": "app"})
        config = {
            # app_owner is declared (not blacklisted): ldap2pg sets default privileges only for owners it manages
            "postgres": {"roles_blacklist_query": ["dbadmin", "postgres", "pg_*"],
                         "databases_query": [self.database], "schemas_query": ["app"],
                         "owners_query": ["app_owner"]},
            "privileges": {
                "reader": ["__usage_on_schemas__", "__select_on_tables__", "__default_select_on_tables__"],
                # INSERT/UPDATE on 10 named tables: ldap2pg only knows whole schemas, so a custom privilege.
                "writer": {"type": "nspacl",
                           "inspect": "WITH g AS (SELECT c.relowner, (aclexplode(c.relacl)).grantee AS grantee, "
                                      "(aclexplode(c.relacl)).privilege_type AS priv FROM pg_class c JOIN "
                                      "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app' AND "
                                      f"c.relname IN ({names})) SELECT 'app', r.rolname, count(*) = {pairs} "
                                      "FROM g JOIN pg_roles r ON r.oid = g.grantee WHERE g.priv IN ('INSERT', "
                                      "'UPDATE') AND g.grantee <> g.relowner GROUP BY r.rolname",
                           "grant": f"GRANT INSERT, UPDATE ON {tables} TO {{role}}",
                           "revoke": f"REVOKE INSERT, UPDATE ON {tables} FROM {{role}}"}},
            "sync_map": [{"roles": [{"names": ["app_owner", *roles], "options": "NOLOGIN"}], "grant": grants}],
        }
        (self.work / "ldap2pg.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    def run(self, apply: bool) -> tuple[float, float, int | None]:
        args = [str(PEERS / "bin" / "ldap2pg"), "--config", "ldap2pg.yml"] + (["--real"] if apply else [])
        elapsed, rss, out = timed(args, self.env(), self.work, self.limit)
        return elapsed, rss, len(re.findall(r"CHANGE:|Would ", out))


class Pgbedrock(Tool):
    name = "pgbedrock 0.4.2"

    def env(self) -> dict[str, str]:
        return {**os.environ, "BENCH_ADMIN_PASSWORD": self.server.admin["password"]}

    def configure(self) -> None:
        spec: dict[str, object] = {
            # pgbedrock manages every attribute of every role, the password included: keep the admin's.
            "dbadmin": {"is_superuser": True, "can_login": True, "attributes": [
                "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS",
                'PASSWORD "{{ env["BENCH_ADMIN_PASSWORD"] }}"']},
            "app_owner": {"owns": {"schemas": ["app"], "tables": ["app.*"]}},
        }
        # pgbedrock insists on every role of the cluster, the predefined pg_* roles newer than it included
        # (it knows pg_signal_backend itself and would try to create it if listed).
        for (name,) in self.server.sql(self.database, "SELECT rolname FROM pg_roles WHERE rolname ~ '^pg_' "
                                                      "AND rolname <> 'pg_signal_backend'"):
            spec[name] = {}
        writers = set(workload.writers(self.roles))
        for i in range(1, self.roles + 1):
            name = workload.role_name(i)
            if name in self.dropped:
                continue
            entry: dict[str, object] = {"can_login": False}
            if name not in self.skip:
                privileges: dict[str, object] = {"schemas": {"read": ["app"]}, "tables": {"read": ["app.*"]}}
                if name in writers:
                    privileges["tables"]["write"] = [f"app.{workload.table_name(t)}"  # type: ignore[index]
                                                     for t in range(1, workload.WRITE_TABLES + 1)]
                entry["privileges"] = privileges
            spec[name] = entry
        (self.work / "spec.yml").write_text(yaml.safe_dump(spec, sort_keys=False))

    def run(self, apply: bool) -> tuple[float, float, int | None]:
        a = self.server.admin
        args = [str(PEERS / "bin" / "pgbedrock"), "configure", "spec.yml", "-h", a["host"], "-p", str(a["port"]),
                "-U", a["user"], "-w", a["password"], "-d", self.database, "--no-prompt",
                "--live" if apply else "--check", "--attributes", "--no-memberships", "--no-ownerships",
                "--privileges"]
        elapsed, rss, out = timed(args, self.env(), self.work)
        changes = len([line for line in out.splitlines() if re.match(r"^\s*(GRANT|REVOKE|ALTER|CREATE|DROP)", line)])
        return elapsed, rss, changes


# ---------------------------------------------------------------- scenarios


def run_tool(tool: Tool, server: Server, size: str, runs: int, deadline: float, first_limit: float | None = None
             ) -> list[Result]:
    results: list[Result] = []
    tool.configure()
    stopped = [False]

    def measure(scenario: str, apply: bool, repeat: int) -> None:
        samples, rss, changes = [], 0.0, None
        before = server.statements_logged()
        for _ in range(repeat):
            if time.monotonic() > deadline:
                break
            try:
                seconds, peak, changes = tool.run(apply)
            except Stopped as exc:
                results.append(Result(tool.name, size, scenario, tool.limit or float("nan"), 0, 0, None,
                                      note=f"{exc}: slower than this (for the scenarios below the state was built "
                                           f"by provisioner, then settled by one untimed run of the peer)"))
                stopped[0] = True
                return
            except RuntimeError as exc:
                reason = str(exc).split(": ", 1)[-1].strip().splitlines()[0][:120]
                results.append(Result(tool.name, size, scenario, float("nan"), 0, 0, None,
                                      note=f"the tool failed: {reason}"))
                return
            samples.append(seconds)
            rss = max(rss, peak)
        if not samples:
            results.append(Result(tool.name, size, scenario, float("nan"), 0, 0, None, note="skipped: time budget"))
            return
        statements = (server.statements_logged() - before) // max(len(samples), 1)
        rows = server.sql(tool.database, workload.CHECK_SQL, (workload.table_name(workload.WRITE_TABLES),))
        problems = workload.mismatches(rows, tool.roles, tool.tables + extra_tables[0], tool.skip, tool.dropped,
                                       extra_writes_ok=isinstance(tool, Pgbedrock)) if apply else []
        note = ""
        if scenario.startswith("no-op") and changes:
            note = f"perpetual diff: {changes} change(s) on a no-op run"
        results.append(Result(tool.name, size, scenario, statistics.median(samples), rss, statements, changes,
                              problems, note))

    extra_tables = [0]
    tool.limit = first_limit
    measure("first apply", True, 1)
    tool.limit = None
    if stopped[0]:
        server.reset(tool.database, tool.tables)
        helper = Provisioner(server, tool.database, tool.roles, tool.tables, tool.work)
        helper.configure()
        helper.run(True)
        tool.run(True)  # untimed: the peer settles what it models differently (e.g. the owner's own entries)
    measure("no-op plan", False, runs)
    measure("no-op apply", True, runs)
    server.sql(tool.database, "SET ROLE app_owner; CREATE TABLE app.t9999 (id int)")
    extra_tables[0] = 1
    measure("table added", True, 1)
    tool.skip = {workload.role_name(1)}
    tool.configure()
    measure("grants removed", True, 1)
    tool.dropped = {workload.role_name(3)}
    tool.configure()
    measure("role dropped", True, 1)
    return results


def render_table(results: list[Result]) -> str:
    base = {(r.size, r.scenario): r.seconds for r in results if r.tool == "provisioner"}
    lines = ["| size (roles x tables) | scenario | tool | median s | peak RSS MB | statements | changes | "
             "vs provisioner | check |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        ratio = r.seconds / base[(r.size, r.scenario)] if base.get((r.size, r.scenario)) else float("nan")
        check = "exact" if not r.problems else f"{len(r.problems)} mismatch(es): {r.problems[0]}"
        if r.note:
            check += f"; {r.note}"
        over = ">" if r.note.startswith("stopped") else ""
        lines.append(f"| {r.size} | {r.scenario} | {r.tool} | {over}{r.seconds:.2f} | {r.rss_mb:.0f} | "
                     f"{r.statements} | {'' if r.changes is None else r.changes} | {over}{ratio:.1f}x | {check} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="200x1000,1000x2000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=720, help="seconds before remaining runs are skipped")
    parser.add_argument("--pgbedrock-max-roles", type=int, default=200,
                        help="pgbedrock sends one statement per object: only the small size by default")
    parser.add_argument("--peer-first-apply-limit", type=float, default=200,
                        help="seconds after which a peer's first apply at the large size is stopped and reported "
                             "as slower than that (ldap2pg 5.9 takes 330-530 s at 1000x2000)")
    args = parser.parse_args()
    deadline = time.monotonic() + args.budget
    peers = ensure_peers()
    server = Server()
    server.aws = sandbox.start_secrets_manager()  # type: ignore[attr-defined]
    work = Path(tempfile.mkdtemp(prefix="provisioner-bench-"))
    results: list[Result] = []
    floors: dict[str, float] = {}
    try:
        for size in args.sizes.split(","):
            roles, tables = (int(n) for n in size.split("x"))
            tools: list[type[Tool]] = [Provisioner]
            if peers:
                tools.append(Ldap2pg)
                if roles <= args.pgbedrock_max_roles:
                    tools.append(Pgbedrock)
            for cls in tools:
                server.reset("bench", tables)
                print(f"running {cls.name} at {size} ...", file=sys.stderr, flush=True)
                large = roles * tables >= 1_000_000
                runs = 1 if large and cls is not Provisioner else args.runs
                limit = args.peer_first_apply_limit if large and cls is not Provisioner else None
                tool = cls(server, "bench", roles, tables, work)
                results += run_tool(tool, server, size, runs, deadline, limit)
                if cls is Provisioner:
                    floors[size] = targets.floor_seconds(tool.env(), work)
                    server.reset("bench", tables)
                    floors[f"first apply {size}"] = targets.first_apply_floor(tool.env(), work, roles)
                    wrong = workload.mismatches(server.sql("bench", workload.CHECK_SQL,
                                                           (workload.table_name(workload.WRITE_TABLES),)),
                                                roles, tables)
                    assert not wrong, f"the first-apply floor left another state: {wrong[:3]}"
        print(render_table(results))
        from extras import FIGURES, extras  # secrets at scale, many targets, MariaDB

        print()
        print(extras(server, work, deadline))
        print()
        print(targets.table(targets.rows(results, floors, FIGURES)))
    finally:
        server.aws.stop()  # type: ignore[attr-defined]
        server.pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
