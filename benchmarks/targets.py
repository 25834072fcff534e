"""The targets of the performance issue, one row each: provisioner's figure, the floor or peer measured in the
same run, the ratio, and whether the target is met. The floor of a no-op plan is a fresh Python process that
imports psycopg, connects and reads the state grouped server-side (ACLs by distinct value, default ACLs, roles):
what any tool must at least do."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from measure import timed

FLOOR = """
import os, psycopg
with psycopg.connect(os.environ["BENCH_URL"]) as conn:
    conn.execute("SELECT relacl, count(*) FROM pg_class GROUP BY relacl").fetchall()
    conn.execute("SELECT defaclrole, defaclnamespace, defaclobjtype, defaclacl FROM pg_default_acl").fetchall()
    conn.execute("SELECT rolname, rolcanlogin, rolconfig FROM pg_roles").fetchall()
"""


def floor_seconds(env: dict[str, str], work: Path, runs: int = 3) -> float:
    return statistics.median(timed([sys.executable, "-c", FLOOR], env, work)[0] for _ in range(runs))


# The first apply's floor: a fresh process that creates the roles and grants the workload's end state in the
# fewest statements PostgreSQL has (one GRANT per privilege set, naming every grantee), in one transaction.
FIRST_APPLY_FLOOR = """
import os, psycopg
roles = [f"r{i:04d}" for i in range(1, int(os.environ["ROLES"]) + 1)]
everyone, writers = ", ".join(roles), ", ".join(roles[1::2])
tables = ", ".join(f"app.t{i:04d}" for i in range(1, 11))
with psycopg.connect(os.environ["BENCH_URL"]) as conn:
    conn.execute("; ".join(f"CREATE ROLE {r} NOLOGIN" for r in roles))
    conn.execute(f"GRANT USAGE ON SCHEMA app TO {everyone}")
    conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA app TO {everyone}")
    conn.execute(f"GRANT INSERT, UPDATE ON TABLE {tables} TO {writers}")
    conn.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app GRANT SELECT ON TABLES TO {everyone}")
"""


def first_apply_floor(env: dict[str, str], work: Path, roles: int) -> float:
    """Run on a freshly reset database; the caller checks the state it leaves like any tool's."""
    return timed([sys.executable, "-c", FIRST_APPLY_FLOOR], {**env, "ROLES": str(roles)}, work)[0]


@dataclass
class Row:
    target: str
    ours: str
    reference: str
    ratio: str
    met: bool | None  # None: not measured in this run


def _fmt(seconds: float | None) -> str:
    return "n/a" if seconds is None or seconds != seconds else f"{seconds:.2f} s"


def rows(results: list, floors: dict[str, float], figures: dict[str, float]) -> list[Row]:
    """`results`: bench.Result rows; `floors`: size -> no-op floor ("first apply SIZE": its floor);
    `figures`: what the extras measured."""
    def find(tool: str, size: str, scenario: str):
        return next((r for r in results if r.tool == tool and r.size == size and r.scenario == scenario), None)

    found: list[Row] = []
    plan = find("provisioner", "1000x2000", "no-op plan")
    floor = floors.get("1000x2000")
    if plan and floor:
        found.append(Row("1. no-op plan at 1000x2000 <= 0.6 s and <= 3x the floor", _fmt(plan.seconds),
                         f"floor {_fmt(floor)}", f"{plan.seconds / floor:.1f}x",
                         plan.seconds <= 0.6 and plan.seconds <= 3 * floor))
    first = find("provisioner", "1000x2000", "first apply")
    peer = find("ldap2pg 5.9", "1000x2000", "first apply")
    first_floor = floors.get("first apply 1000x2000")
    if first:
        reference = (f"ldap2pg {'>' if peer and peer.note.startswith('stopped') else ''}{_fmt(peer.seconds)}"
                     if peer else "ldap2pg not run")
        ratio = f"{peer.seconds / first.seconds:.0f}x faster than ldap2pg" if peer else ""
        if first_floor:
            reference += f"; floor {_fmt(first_floor)} (the end state in 5 statements)"
            ratio += f"; {first.seconds / first_floor:.2f}x the floor"
        found.append(Row("2a. first apply at 1000x2000 <= 12 s", _fmt(first.seconds), reference, ratio,
                         first.seconds <= 12))
    small, small_peer = find("provisioner", "200x1000", "first apply"), find("ldap2pg 5.9", "200x1000", "first apply")
    if small and small_peer:
        ratio = small_peer.seconds / small.seconds
        small_floor = floors.get("first apply 200x1000")
        reference, against = f"ldap2pg {_fmt(small_peer.seconds)}", f"{ratio:.1f}x faster"
        if small_floor:
            reference += f"; floor {_fmt(small_floor)}"
            against += f"; {small.seconds / small_floor:.2f}x the floor"
        found.append(Row("2b. first apply at 200x1000 >= 10x ldap2pg", _fmt(small.seconds), reference, against,
                         ratio >= 10))
    if "parallel" in figures:
        ratio = figures["parallel"] / figures["slowest"]
        found.append(Row("3. 20 targets planned <= 1.5x the slowest single target", _fmt(figures["parallel"]),
                         f"slowest single {_fmt(figures['slowest'])}", f"{ratio:.1f}x", ratio <= 1.5))
    if plan:
        found.append(Row("4a. peak RSS of the no-op plan at 1000x2000 <= 200 MB", f"{plan.rss_mb:.0f} MB", "",
                         "", plan.rss_mb <= 200))
    if first:
        found.append(Row("4b. peak RSS of the first apply at 1000x2000 <= 300 MB", f"{first.rss_mb:.0f} MB", "",
                         "", first.rss_mb <= 300))
    if "calls_per_account" in figures:
        found.append(Row("5. <= 2 Secrets Manager calls per new account (beyond the shared read of the secrets)",
                         f"{figures['calls_per_account']:.2f}",
                         "before: 3 (GetRandomPassword, CreateSecret, UntagResource)", "",
                         figures["calls_per_account"] <= 2))
    if "rotate_all" in figures:
        found.append(Row(f"6. rotate --all of {figures['rotated']:.0f} single-user accounts <= 30 s",
                         _fmt(figures["rotate_all"]), f"--parallelism {figures['rotate_parallelism']:.0f}",
                         f"{figures['rotate_all'] / figures['rotated'] * 1000:.0f} ms per account",
                         figures["rotate_all"] <= 30))
    return found


def table(found: list[Row]) -> str:
    lines = ["| target | provisioner | floor / peer (same run) | ratio | met |", "|---|---:|---|---:|---|"]
    for r in found:
        met = "n/a" if r.met is None else ("yes" if r.met else "NO")
        lines.append(f"| {r.target} | {r.ours} | {r.reference} | {r.ratio} | {met} |")
    return "\n".join(lines)
