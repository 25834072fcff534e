"""Execute: carry out a target's plan in an order that never loses a credential.

Per target, under the target's lock (PostgreSQL advisory lock, MySQL GET_LOCK), which rotations take too:
  1. re-inspect and re-diff, so a plan made before the lock is never applied stale;
  2. secrets first: a new account's secret is written (tagged `provisioner:sync=pending`) before any database
     password, a new password for an existing account is written as AWSPENDING;
  3. database statements in plan order, passwords taken from the secrets just written;
  4. after the database commit: pending versions promoted to AWSCURRENT, sync tags removed, secret metadata
     updated, secrets of dropped accounts scheduled for deletion.
A crash anywhere leaves either no account, or an account whose AWSCURRENT logs in, or a marker (sync tag /
AWSPENDING version) from which the next run converges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import changes as c
from . import faults, render
from .batch import batched
from .diff import ROTATION_TAG, SYNC_TAG, DiffOptions
from .errors import ApplyError, PlanError, ProvisionerError
from .inspect import inspect_target
from .model import Manifest
from .plan import Connection, plan_target
from .redact import redact
from .secrets_manager import CURRENT, PENDING, SecretStore

log = logging.getLogger(__name__)
# Secret work before the database transaction, and after its commit.
PRE_DATABASE = (c.CreateSecret, c.ResetPassword)
POST_DATABASE = (c.CreateSecret, c.ConfirmPassword, c.ResetPassword, c.FinishPendingPassword, c.UpdateSecret,
                 c.ConfigureRotation, c.DisableRotation, c.DeleteSecret)


@dataclass
class ApplyReport:
    target: str
    plan: c.TargetPlan
    transactional: bool = True
    done: list[str] = field(default_factory=list)  # applied and kept
    uncommitted: list[str] = field(default_factory=list)  # sent inside the open transaction
    completed: set[int] = field(default_factory=set)  # indices of finished steps
    committed: bool = False

    def record(self, text: str) -> None:
        (self.uncommitted if self.transactional and not self.committed else self.done).append(text)

    def commit(self) -> None:
        self.committed = True
        self.done += self.uncommitted
        self.uncommitted = []


@dataclass
class _Passwords:
    """Passwords written to secrets during this apply, by secret name (never printed)."""

    current: dict[str, str] = field(default_factory=dict)
    pending: dict[str, tuple[str, str]] = field(default_factory=dict)  # secret -> (version, password)


def apply_target(conn: Connection, manifest: Manifest, store: SecretStore, options: DiffOptions,
                 expected: c.TargetPlan | None = None,
                 on_plan: Callable[[c.TargetPlan], None] | None = None) -> ApplyReport:
    """Apply one target, planned again under its lock. With `expected` (the plan a user confirmed), a plan that
    changed meanwhile aborts; `on_plan` sees the plan about to run."""
    engine, session = conn.engine, conn.session
    report: ApplyReport | None = None
    try:
        with engine.target_lock(session, conn.target.name):
            with engine.transaction(session):
                state = inspect_target(engine, session, conn.info, store, refresh_secrets=True,
                                       masterarn=conn.masterarn)
                plan = plan_target(conn, manifest, state, options)
                report = ApplyReport(conn.target.name, plan, transactional=engine.transactional)
                if on_plan:
                    on_plan(plan)
                if plan.errors:
                    raise PlanError(f"target {conn.target.name}: " + "; ".join(plan.errors))
                if expected is not None and _lines(plan) != _lines(expected):
                    raise ProvisionerError(f"target {conn.target.name}: the live state changed since the plan "
                                           f"was shown", "run apply again to see the new plan")
                passwords = _Passwords()
                for index, step in enumerate(plan.steps):
                    if isinstance(step.change, PRE_DATABASE):
                        _pre_database(step.change, store, passwords, report)
                        if isinstance(step.change, c.CreateSecret):
                            report.completed.add(index)  # its sync tag is cleared after the database work
                        faults.checkpoint("after-secret-write")
                faults.checkpoint("before-database")
                for indices, change in batched(plan.steps):
                    _database(conn, change, store, passwords, report)
                    faults.checkpoint("between-statements")
                    if not isinstance(change, POST_DATABASE):
                        report.completed.update(indices)
                faults.checkpoint("before-commit")
            report.commit()
            faults.checkpoint("after-commit")
            # Still under the target's lock: a rotation of the same account waits until the secrets match.
            for index, step in enumerate(plan.steps):
                if isinstance(step.change, POST_DATABASE):
                    _post_database(step.change, store, passwords, report)
                    if not isinstance(step.change, c.CreateSecret):
                        report.completed.add(index)
                    faults.checkpoint("after-secret-finish")
    except PlanError:
        raise ApplyError(f"apply refused: the plan of {conn.target.name} has errors (see above); nothing was "
                         f"changed", "fix the cause the plan reports, then run apply again") from None
    except ProvisionerError as exc:
        raise ApplyError(_failure(conn.target.name, report, exc), exc.hint) from None
    except Exception as exc:
        raise ApplyError(_failure(conn.target.name, report, exc)) from None
    return report


def _lines(plan: c.TargetPlan) -> list[tuple[str, ...]]:
    return [(s.change.action, s.change.type_name, *s.lines, repr(s.change)) for s in plan.steps]


def _failure(target: str, report: ApplyReport | None, exc: Exception) -> str:
    lines = [f"apply of target {target} failed: {redact(str(exc).strip())}"]
    if report is None:
        return "\n".join(lines)
    if report.done:
        lines.append("applied before the failure (kept):")
        lines += [f"  {d}" for d in report.done]
    pending = [step for i, step in enumerate(report.plan.steps)
               if i not in report.completed or (report.transactional and not report.committed
                                                and step.change.is_database)]
    if pending:
        lines.append("not applied:")
        for step in pending:
            lines += [f"  {line}" for line in render.step_lines(step)]
    if report.transactional and not report.committed:
        lines.append("the database statements of this target were rolled back as one transaction")
    lines.append("run apply again once the cause is fixed: it continues from the current state")
    return "\n".join(lines)


def _pre_database(change: c.Change, store: SecretStore, passwords: _Passwords, report: ApplyReport) -> None:
    if isinstance(change, c.CreateSecret):
        password = store.random_password(change.password_length, change.exclude_characters)
        value = {**change.fields, "password": password}
        store.create(change.secret, value, change.kms_key, change.description,
                     {**change.tags, SYNC_TAG: "pending"})
        passwords.current[change.secret] = password
        report.done.append(f"+ secret {change.secret} created")
    if isinstance(change, c.ResetPassword):
        current = store.get_value(change.secret, CURRENT)
        password = store.random_password(change.password_length, change.exclude_characters)
        version = store.put_value(change.secret, {**current, "password": password}, [PENDING])
        store.tag(change.secret, {SYNC_TAG: f"version:{version}"})
        passwords.pending[change.secret] = (version, password)
        report.done.append(f"~ secret {change.secret}: new password written as AWSPENDING")


def _database(conn: Connection, change: c.Change, store: SecretStore, passwords: _Passwords,
              report: ApplyReport) -> None:
    password = None
    if isinstance(change, (c.CreateRole, c.SetPassword)) and change.secret:
        if change.secret in passwords.current:
            password = passwords.current[change.secret]
        else:
            password = _checked(store.get_value(change.secret, CURRENT), change)
    elif isinstance(change, c.ResetPassword):
        password = passwords.pending[change.secret][1]
    elif isinstance(change, c.FinishPendingPassword):
        password = _checked(store.get_value(change.secret, version=change.version), change)
        passwords.pending[change.secret] = (change.version, password)
    for statement in conn.engine.statements(change, password, conn.session):
        log.debug("executing %s", statement.display)
        conn.session.execute(statement)
        report.record(f"{change.action} {statement.display}")


def _post_database(change: c.Change, store: SecretStore, passwords: _Passwords, report: ApplyReport) -> None:
    if isinstance(change, (c.CreateSecret, c.ConfirmPassword)):
        store.untag(change.secret, [SYNC_TAG])
    elif isinstance(change, (c.ResetPassword, c.FinishPendingPassword)):
        version, _ = passwords.pending[change.secret]
        store.promote(change.secret, version)
        store.untag(change.secret, [SYNC_TAG])
        report.done.append(f"~ secret {change.secret}: new password promoted to AWSCURRENT")
    elif isinstance(change, c.ConfigureRotation):
        store.configure_rotation(change.secret, change.function, change.rules, change.rotate_immediately)
        store.tag(change.secret, {ROTATION_TAG: change.fingerprint})
        report.done.append(f"~ secret {change.secret}: rotation configured")
    elif isinstance(change, c.DisableRotation):
        store.cancel_rotation(change.secret)
        store.untag(change.secret, [ROTATION_TAG])
        report.done.append(f"~ secret {change.secret}: rotation disabled")
    elif isinstance(change, c.UpdateSecret):
        _update_secret(change, store)
        report.done.append(f"~ secret {change.secret}: {change.setting} updated")
    elif isinstance(change, c.DeleteSecret):
        store.delete(change.secret, change.recovery_days)
        report.done.append(f"- secret {change.secret} scheduled for deletion in {change.recovery_days} days")


def _checked(value: dict[str, Any], change: c.CreateRole | c.SetPassword | c.FinishPendingPassword) -> str:
    """The password of a secret value, after making sure it belongs to the user about to receive it."""
    if value.get("username") not in (None, change.name) or not value.get("password"):
        raise ProvisionerError(f"secret {change.secret} names user {value.get('username')!r}, not {change.name!r}",
                               "run plan again: the secret changed while apply ran")
    return str(value["password"])


def _update_secret(change: c.UpdateSecret, store: SecretStore) -> None:
    if change.setting == "value":
        current = store.get_value(change.secret, CURRENT)
        store.put_value(change.secret, {**current, **change.new}, [CURRENT])  # type: ignore[dict-item]
    elif change.setting == "description":
        store.update(change.secret, description=str(change.new))
    elif change.setting == "kms_key":
        store.update(change.secret, kms_key=str(change.new) if change.new else "alias/aws/secretsmanager")
    elif change.setting == "tags":
        new: dict[str, str] = dict(change.new)  # type: ignore[call-overload]
        old: dict[str, str] = dict(change.old)  # type: ignore[call-overload]
        store.tag(change.secret, new)
        store.untag(change.secret, [k for k in old if k not in new])
