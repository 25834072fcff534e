"""Plan: for each selected target, connect, inspect, diff, and attach the statements each change will send.

The glue between load, inspect, diff and render; knows no SQL itself (engines render statements).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from . import changes as c
from .credentials import admin_conninfo, admin_secret_arn
from .diff import DiffOptions, diff_target
from .engines import AuthenticationFailed, ConnInfo, DatabaseUnreachable, Engine, Session, get_engine
from .errors import ProvisionerError
from .inspect import inspect_target
from .model import CurrentState, Manifest, Target
from .secrets_manager import SecretStore

log = logging.getLogger(__name__)
DEFAULT_PARALLELISM = 4
T = TypeVar("T")


@dataclass
class Connection:
    target: Target
    engine: Engine
    info: ConnInfo
    session: Session
    masterarn: str | None = None  # the admin secret's ARN, when the admin comes from Secrets Manager

    def close(self) -> None:
        self.session.close()


def select_targets(manifest: Manifest, names: Iterable[str] | None) -> list[Target]:
    names = list(names or [])
    unknown = [n for n in names if n not in manifest.targets]
    if unknown:
        raise ProvisionerError(f"unknown target(s): {', '.join(unknown)}",
                               f"targets in the manifest: {', '.join(sorted(manifest.targets)) or 'none'}")
    return [manifest.targets[n] for n in (names or sorted(manifest.targets))]


def connect(target: Target, store: SecretStore) -> Connection:
    engine = get_engine(target.engine)
    info = admin_conninfo(target, store)
    try:
        session = engine.connect(info)
    except AuthenticationFailed:
        raise ProvisionerError(f"target {target.name}: the admin credentials were refused by "
                               f"{info.host}:{info.port} (user {info.user})",
                               "check the admin secret / URL; for RDS-managed secrets check that it was not "
                               "rotated while this ran") from None
    except DatabaseUnreachable as exc:
        raise ProvisionerError(f"target {target.name}: {exc.message}", exc.hint) from None
    except Exception as exc:
        raise ProvisionerError(f"target {target.name}: cannot connect to {info.host}:{info.port}: "
                               f"{_first_line(exc)}", "check host, port, network path and TLS settings") from None
    return Connection(target, engine, info, session, admin_secret_arn(target, store))


def _first_line(exc: Exception) -> str:
    from .redact import redact

    return redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def plan_target(conn: Connection, manifest: Manifest, state: CurrentState, options: DiffOptions) -> c.TargetPlan:
    target = conn.target
    result = diff_target(target, manifest.for_target(target.name), state, options, conn.engine.traits)
    log.debug("target %s: %d catalog queries, %d roles, %d ACL groups, %d changes", target.name,
              state.database.queries if state.database else 0, len(state.database.roles) if state.database else 0,
              len(state.database.acl_groups) if state.database else 0, len(result.changes))
    plan = c.TargetPlan(target=target.name, engine=target.engine, warnings=result.warnings, errors=result.errors,
                        queries=state.database.queries if state.database else 0, labels=result.labels)
    for change in result.changes:
        lines = tuple(s.display for s in conn.engine.statements(change)) if change.is_database else ()
        plan.steps.append(c.Step(change, lines))
    return plan


def build_plan(manifest: Manifest, target_names: Iterable[str] | None, store: SecretStore,
               options: DiffOptions, parallelism: int = DEFAULT_PARALLELISM) -> c.Plan:
    """Plan every selected target, `parallelism` at a time (each on its own connection)."""
    targets = select_targets(manifest, target_names)
    store.managed()  # one ListSecrets pass for every target, before the threads start

    def plan_one(target: Target) -> c.TargetPlan:
        conn = connect(target, store)
        try:
            state = inspect_target(conn.engine, conn.session, conn.info, store, masterarn=conn.masterarn)
            return plan_target(conn, manifest, state, options)
        finally:
            conn.close()

    plans = run_parallel(plan_one, targets, parallelism)
    for plan in plans:
        plan.secrets_calls = store.calls
    return c.Plan(plans)


def run_parallel(work: Callable[[Target], T], targets: list[Target], parallelism: int) -> list[T]:
    """`work` for each target, at most `parallelism` at once; results in target order; the first error wins."""
    if parallelism <= 1 or len(targets) <= 1:
        return [work(t) for t in targets]
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="target") as pool:
        return list(pool.map(work, targets))
