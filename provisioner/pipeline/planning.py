"""Planning: for each selected target, connect, inspect (the database and the managed secrets), diff, and attach
the statements each change will send. The glue between the wings; knows no SQL itself (engines compile it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

from provisioner.core.changes import AlterRole, AnyChange, Settings
from provisioner.core.conventions import EVERY_ROLE, REPLICAS_TAG, DropScope, secret_database, secret_name
from provisioner.core.diff import DiffOptions, database_principals, diff_target
from provisioner.core.fingerprint import inventory
from provisioner.core.model import CurrentState, Manifest, Target
from provisioner.core.plan import Plan, Step, TargetPlan
from provisioner.engines import Engine, get_engine
from provisioner.errors import ProvisionerError
from provisioner.pipeline.connect import Connection, connect
from provisioner.pipeline.processes import can_fork, run_in_processes
from provisioner.pipeline.same_server import refuse_same_server
from provisioner.secrets.store import SecretStore

log = logging.getLogger(__name__)
DEFAULT_PARALLELISM = 4
T = TypeVar("T")


def select_targets(manifest: Manifest, names: Iterable[str] | None) -> list[Target]:
    names = list(names or [])
    unknown = [n for n in names if n not in manifest.targets]
    if unknown:
        raise ProvisionerError(f"unknown target(s): {', '.join(unknown)}",
                               f"targets in the manifest: {', '.join(sorted(manifest.targets)) or 'none'}")
    return [manifest.targets[n] for n in (names or sorted(manifest.targets))]


def drop_scope(manifest: Manifest, target: Target) -> DropScope:
    """The roles a plan of `target` may drop (what they own is read; no other role's is)."""
    def names(state: str) -> frozenset[str]:
        return frozenset(m.name for p in manifest.for_target(target.name) if p.state == state
                         for m in database_principals(p, target.engine))
    return DropScope(target.name, kept=names("present"), absent=names("absent"))


def replicated(manifest: Manifest, target: Target) -> frozenset[str]:
    """The accounts of a target whose secrets the manifest replicates (their replicas are read)."""
    return frozenset(p.name for p in manifest.for_target(target.name) if p.login and p.secret.replica_regions)


def inspect_target(conn: Connection, store: SecretStore, refresh_secrets: bool = False,
                   scope: DropScope = EVERY_ROLE, replicas_of: frozenset[str] = frozenset()) -> CurrentState:
    """The current state of one target: the engine's constant number of catalog queries (and a constant number
    more in each other database it manages), plus the managed secrets (one ListSecrets pass and
    BatchGetSecretValue, shared by every target of the run) and the replicas of those that have or should have
    some (`replicas_of`: accounts; one DescribeSecret each, as ListSecrets does not tell)."""
    engine, info = conn.engine, conn.info
    database = engine.inspect(conn.session, scope)
    others = {name: engine.inspect_other(conn.session_for(name), database)
              for name in conn.target.other_databases if name != database.name}
    connection: dict[str, object] = {"host": info.host, "port": info.port, "dbname": info.dbname}
    if conn.masterarn:
        connection["masterarn"] = conn.masterarn
    secrets = dict(store.managed(refresh=refresh_secrets, targets=[conn.target.name]))
    for name, secret in secrets.items():
        if secret.target == conn.target.name and not secret.deleted and (
                secret.account in replicas_of or REPLICAS_TAG in secret.tags):
            secrets[name] = replace(secret, replicas=store.replication(secret.arn))
    return CurrentState(database=database, secrets=secrets, connection=connection, others=others)


def steps_of(engine: Engine, changes: Iterable[AnyChange], server_version: str | None = None) -> list[Step]:
    """Plan steps: each change with the statements it shows (database changes) or none (secret changes)."""
    return [Step(change, tuple(s.display for s in engine.statements(change, server_version=server_version))
                 if change.is_database else ()) for change in changes]


def plan_target(conn: Connection, manifest: Manifest, state: CurrentState, options: DiffOptions,
                saving: bool = False) -> TargetPlan:
    """One target's plan; `saving` (`plan --out`, `apply FILE`): with the server's identity and the inventory of
    what was inspected."""
    target = conn.target
    db = state.database
    version = db.server_version if db else None
    result = diff_target(target, manifest.for_target(target.name), state, options, conn.engine.traits_for(version))
    result.errors += conn.engine.check_settings(conn.session, settings_to_set(result.changes))
    queries = (db.queries if db else 0) + sum(other.queries for other in state.others.values())
    log.debug("target %s: %d catalog queries, %d roles, %d ACL groups, %d changes", target.name,
              queries, len(db.roles) if db else 0, len(db.acl_groups) if db else 0, len(result.changes))
    plan = TargetPlan(target=target.name, engine=target.engine, warnings=result.warnings, errors=result.errors,
                      queries=queries, labels=result.labels, endpoint=endpoint_of(conn),
                      steps=steps_of(conn.engine, result.changes, version))
    if saving:
        plan.identity = conn.engine.server_identity(conn.session)
        principals = manifest.for_target(target.name)
        named = {conn.engine.traits.identity(m.name, m.host) for p in principals
                 for m in database_principals(p, target.engine)}
        database = secret_database(target, str(state.connection.get("dbname") or "") or None)
        secrets = {secret_name(p, target, database) for p in principals if p.login}
        plan.inventory = inventory(state, target.name, named, secrets)
    return plan


def settings_to_set(changes: Iterable[AnyChange]) -> list[tuple[str, str]]:
    """(parameter, value) of every role setting a plan sets (new or changed), once each."""
    found: dict[tuple[str, str], None] = {}
    for change in changes:
        if isinstance(change, AlterRole) and isinstance(change.to, Settings) and isinstance(change.was, Settings):
            held = set(change.was.value)
            found.update({(name, value): None for db, name, value in change.to.value if (db, name, value) not in held})
    return list(found)


Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The default progress: nothing (the command line shows progress on a terminal only)."""


def build_plan(manifest: Manifest, target_names: Iterable[str] | None, store: SecretStore,
               options: DiffOptions, parallelism: int = DEFAULT_PARALLELISM, progress: Progress = quiet,
               saving: bool = False) -> Plan:
    """Plan every selected target, `parallelism` at a time (each on its own connection), in forked processes
    where there are several (see `processes`); `saving`: each with what a saved plan records (`plan_target`)."""
    targets = select_targets(manifest, target_names)
    refuse_same_server(manifest, targets, store)
    progress(f"reading the managed secrets ({len(targets)} target(s))")
    store.managed(targets=[t.name for t in targets])  # one ListSecrets pass for every target, before the threads

    def plan_one(target: Target) -> TargetPlan:
        progress(f"target {target.name}: connecting")
        try:
            conn = connect(target, store)
        except ProvisionerError as exc:
            return failed_plan(target, exc)  # every target's outcome is reported, not the first failure's
        try:
            state = inspect_target(conn, store, scope=drop_scope(manifest, target),
                                   replicas_of=replicated(manifest, target))
            plan = plan_target(conn, manifest, state, options, saving)
            progress(f"target {target.name}: {plan.queries} catalog queries, {len(plan.steps)} change(s)")
            return plan
        except ProvisionerError as exc:
            return failed_plan(target, exc, conn)
        finally:
            conn.close()

    processes = min(parallelism, len(targets), os.cpu_count() or 1)
    if processes > 1 and can_fork():
        # As many processes as cores for the CPU-bound part; threads in each overlap the waits on servers.
        threads = -(-parallelism // processes)

        def plan_some(some: Sequence[Target]) -> tuple[list[TargetPlan], int]:
            before = store.calls  # one chunk at a time per worker: the difference is this chunk's calls
            return run_parallel(plan_one, list(some), threads), store.calls - before

        for engine in {t.engine for t in targets}:
            get_engine(engine)  # its driver imported once, here, rather than in every worker
        done = run_in_processes(plan_some, targets, processes, threads, in_worker=store.after_fork)
        store.calls += sum(calls for _, calls in done)  # the workers' own Secrets Manager calls
        plans = [plan for some, _ in done for plan in some]
    else:
        plans = run_parallel(plan_one, targets, parallelism)
    for plan in plans:
        plan.secrets_calls = store.calls
    return Plan(plans)


def failed_plan(target: Target, exc: ProvisionerError, conn: Connection | None = None) -> TargetPlan:
    """The plan of a target that could not be planned: its error, and no step (nothing is applied there)."""
    log.debug("target %s could not be planned", target.name, exc_info=True)  # --debug: the (redacted) traceback
    message = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
    return TargetPlan(target=target.name, engine=target.engine, errors=[message],
                      endpoint=endpoint_of(conn) if conn else "")


def endpoint_of(conn: Connection) -> str:
    """Where a plan was made, for its header: user@host:port/database (never a password)."""
    info = conn.info
    return f"{info.user}@{info.host}:{info.port}" + (f"/{info.dbname}" if info.dbname else "")


def run_parallel(work: Callable[[Target], T], targets: list[Target], parallelism: int) -> list[T]:
    """`work` for each target, at most `parallelism` at once; results in target order; the first error wins."""
    if parallelism <= 1 or len(targets) <= 1:
        return [work(t) for t in targets]
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="target") as pool:
        return list(pool.map(work, targets))


__all__ = ["DEFAULT_PARALLELISM", "Progress", "build_plan", "drop_scope", "get_engine", "inspect_target",
           "plan_target", "quiet", "run_parallel", "select_targets", "steps_of"]
