"""Apply: carry out a target's plan in an order that never loses a credential.

Per target, under the target's lock (PostgreSQL advisory lock, MySQL GET_LOCK), which rotations take too:
  1. re-inspect and re-diff, so a plan made before the lock is never applied stale;
  2. the `before` pass of the secret protocol (`secret_steps`): secrets written first;
  3. database statements in plan order (batched), passwords taken where the protocol says, as one transaction
     (a PostgreSQL cluster: one per database, in the order `changes.in_order` gives, see `segments`);
  4. after the database commits, the `after` pass: pending versions promoted, sync tags removed, secret metadata
     updated, secrets of dropped accounts scheduled for deletion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from provisioner import faults
from provisioner.core.diff import DiffOptions
from provisioner.core.fingerprint import step_facts
from provisioner.core.model import Manifest, Target
from provisioner.core.plan import Plan, Step, TargetPlan
from provisioner.errors import ApplyError, PlanError, ProvisionerError
from provisioner.pipeline.batch import batched
from provisioner.pipeline.connect import Connection, connect
from provisioner.pipeline.planning import (
    Progress,
    drop_scope,
    inspect_target,
    plan_target,
    quiet,
    replicated,
    run_parallel,
    select_targets,
)
from provisioner.pipeline.report import ApplyReport, failure_message
from provisioner.pipeline.same_server import refuse_same_server
from provisioner.pipeline.saved import SavedPlan
from provisioner.pipeline.secret_steps import Passwords, Store, step_of
from provisioner.secrets.store import SecretStore

log = logging.getLogger(__name__)


def apply_target(conn: Connection, manifest: Manifest, store: SecretStore, options: DiffOptions,
                 expected: TargetPlan | None = None,
                 on_plan: Callable[[TargetPlan], None] | None = None, progress: Progress = quiet,
                 saved: SavedPlan | None = None) -> ApplyReport:
    """Apply one target, planned again under its lock. With `expected` (the plan a user confirmed), a plan that
    changed meanwhile aborts; with `saved` (`apply FILE`), one that is not the saved plan does; `on_plan` sees
    the plan about to run."""
    session = conn.session
    report: ApplyReport | None = None
    try:
        with session.target_lock(conn.target.name):
            state = inspect_target(conn, store, refresh_secrets=True, scope=drop_scope(manifest, conn.target),
                                   replicas_of=replicated(manifest, conn.target))
            plan = plan_target(conn, manifest, state, options, saving=saved is not None)
            report = ApplyReport(conn.target.name, plan, transactional=conn.engine.transactional)
            _check(conn, plan, expected, on_plan)
            refusal = saved.refusal(plan) if saved else None
            if refusal:
                raise ProvisionerError(f"target {conn.target.name}: saved plan refused, nothing was written: {refusal}",
                                       "plan --out again, review, and apply the new file")
            passwords = Passwords()
            _phase(progress, conn, plan, "before", "secret write(s) first")
            before_database(plan.steps, store, passwords, report)
            faults.checkpoint("before-database")
            progress(f"target {conn.target.name}: {sum(s.change.is_database for s in plan.steps)} database "
                     f"change(s)")
            for database, indices in segments(plan.steps):
                with conn.session_for(database).transaction():
                    in_database(conn, plan.steps, store, passwords, report, database, indices)
                    faults.checkpoint("before-commit")
                report.commit()
            faults.checkpoint("after-commit")
            # Still under the target's lock: a rotation of the same account waits until the secrets match.
            _phase(progress, conn, plan, "after", "secret follow-up(s) after the commit")
            after_commit(plan.steps, store, passwords, report)
    except PlanError:
        raise ApplyError(f"apply refused: the plan of {conn.target.name} has errors (see above); nothing was "
                         f"changed", "fix the cause the plan reports, then run apply again") from None
    except ProvisionerError as exc:
        raise ApplyError(failure_message(conn.target.name, report, exc), exc.hint) from None
    except Exception as exc:
        raise ApplyError(failure_message(conn.target.name, report, exc)) from None
    return report


def segments(steps: list[Step]) -> list[tuple[str, list[int]]]:
    """The database steps as transactions: (database, step indices), in plan order.

    One transaction in the common case. A PostgreSQL cluster's plan has runs of steps per database (see
    `changes.in_order`): each is a transaction of its own, committed before the next starts. A failure between
    them leaves what a crash after a commit leaves: every password the database has is one its secret holds
    (AWSCURRENT or AWSPENDING), and a rerun finishes.
    """
    found: list[tuple[str, list[int]]] = []
    for index, step in enumerate(steps):
        change = step.change
        if not change.is_database:
            continue
        if found and found[-1][0] == change.database:
            found[-1][1].append(index)
        else:
            found.append((change.database, [index]))
    return found


def _phase(progress: Progress, conn: Connection, plan: TargetPlan, phase: str, what: str) -> None:
    count = sum(getattr(step_of(s.change), phase) is not None for s in plan.steps)
    if count:
        progress(f"target {conn.target.name}: {count} {what}")


def _check(conn: Connection, plan: TargetPlan, expected: TargetPlan | None,
           on_plan: Callable[[TargetPlan], None] | None) -> None:
    if on_plan:
        on_plan(plan)
    if plan.errors:
        raise PlanError(f"target {conn.target.name}: " + "; ".join(plan.errors))
    if expected is not None and step_facts(plan.steps) != step_facts(expected.steps):
        raise ProvisionerError(f"target {conn.target.name}: the live state changed since the plan was shown",
                               "run apply again to see the new plan")


def before_database(steps: list[Step], store: Store, passwords: Passwords, report: ApplyReport) -> None:
    """Pass 1: secret work that must precede every database statement."""
    _secret_pass(steps, "before", store, passwords, report, "after-secret-write")


def _secret_pass(steps: list[Step], phase: Literal["before", "after"], store: Store, passwords: Passwords,
                 report: ApplyReport, checkpoint: str) -> None:
    """One of the two secret passes: the protocol's `before` or `after` work of every step, in plan order."""
    for index, step in enumerate(steps):
        protocol = step_of(step.change)
        work = protocol.before if phase == "before" else protocol.after
        if work is None:
            continue
        work(step.change, store, passwords, report.note)
        if protocol.completes == phase:
            report.completed.add(index)
        faults.checkpoint(checkpoint)


def in_database(conn: Connection, steps: list[Step], store: Store, passwords: Passwords, report: ApplyReport,
                database: str = "", only: list[int] | None = None) -> None:
    """Pass 2: the database statements in plan order (those of `only`, in `database`), each with the password the
    protocol gives it."""
    session = conn.session_for(database)
    where = f"  -- in database {database}" if database else ""
    for indices, change in batched(steps, only):
        protocol = step_of(change)
        password = protocol.password(change, store, passwords) if protocol.password else None
        for statement in conn.engine.statements(change, password, session):
            log.debug("executing %s%s", statement.display, where)
            session.execute(statement)
            report.record(f"{change.action} {statement.display}{where}")
        faults.checkpoint("between-statements")
        if protocol.completes == "database":
            report.sent.update(indices)


def after_commit(steps: list[Step], store: Store, passwords: Passwords, report: ApplyReport) -> None:
    """Pass 3: secret work that follows the commit (promotions, tag clean-up, metadata, deletions)."""
    _secret_pass(steps, "after", store, passwords, report, "after-secret-finish")


@dataclass
class ApplyResult:
    plans: list[TargetPlan]
    # Each target that failed, with what was applied there and what was not: the others went on.
    failed: dict[str, ProvisionerError] = field(default_factory=dict)

    @property
    def failures(self) -> list[ProvisionerError]:
        return list(self.failed.values())

    @property
    def totals(self) -> dict[str, int]:
        """What was applied, counted as plans count (`Plan.counts`, the one place)."""
        return Plan(self.plans).counts()


def apply_all(manifest: Manifest, target_names: Iterable[str] | None, store: SecretStore, options: DiffOptions,
              parallelism: int, expected: dict[str, TargetPlan] | None = None,
              on_plan: Callable[[TargetPlan], None] | None = None,
              on_done: Callable[[str], None] | None = None, progress: Progress = quiet,
              saved: SavedPlan | None = None) -> ApplyResult:
    """Apply every selected target, `parallelism` at a time, each on its own connection and under its lock.
    With `expected` (confirmed plans), only targets whose plan had changes run, and a drift aborts them; with
    `saved` (`apply FILE`), only the saved plan's targets with changes, each only as saved."""
    targets = select_targets(manifest, target_names)
    refuse_same_server(manifest, targets, store)
    if expected is not None:
        targets = [t for t in targets if expected[t.name].steps]
    if saved is not None:
        targets = [t for t in targets if t.name in saved.targets and saved.targets[t.name].changes]

    def apply_one(target: Target) -> TargetPlan | ProvisionerError:
        """The plan applied, or the target's failure: one target failing never stops the others."""
        progress(f"target {target.name}: connecting")
        try:
            conn = connect(target, store)
        except ProvisionerError as exc:
            return ApplyError(f"apply of target {target.name} failed before anything was written: {exc.message}",
                              exc.hint)
        try:
            report = apply_target(conn, manifest, store, options, (expected or {}).get(target.name), on_plan,
                                  progress, saved)
        except ProvisionerError as exc:
            return exc
        finally:
            conn.close()
        if report.plan.steps and on_done:
            on_done(f"target {target.name}: applied {len(report.plan.steps)} change(s)")
        return report.plan

    outcomes = run_parallel(apply_one, targets, parallelism)
    return ApplyResult([o for o in outcomes if isinstance(o, TargetPlan)],
                       failed={t.name: o for t, o in zip(targets, outcomes, strict=True)
                               if isinstance(o, ProvisionerError)})
