"""Rotation: Secrets Manager's four steps (createSecret, setSecret, testSecret, finishSecret) for the
single-user and alternating-users strategies, on every engine. One implementation serves the Lambda handler
that Secrets Manager invokes (`lambda_handler`) and `provisioner rotate`, which runs the same steps now.

Every step is idempotent per ClientRequestToken and never leaves AWSCURRENT unable to log in: the new password
lives in the AWSPENDING version until it is set in the database and tested, and only then becomes AWSCURRENT.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from provisioner import faults
from provisioner.core.binding import BINDING_TAG, host_part_matches
from provisioner.core.conventions import TARGET_TAG, alternate_username
from provisioner.core.model import ConnInfo, PasswordPolicy
from provisioner.core.secret_value import CURRENT, PENDING, PREVIOUS
from provisioner.engines import AuthenticationFailed, Engine, Session
from provisioner.secrets.aws import SecretsError
from provisioner.secrets.store import SecretStore
from provisioner.secrets.trust import RotationError, conninfo, engine_of, verify_endpoint

log = logging.getLogger(__name__)
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
LOCK_WAIT_SECONDS = 120


@dataclass
class _Known:
    """What one rotation knows of its secret. The Lambda handler makes a Rotation per invocation, so each step
    reads it afresh (once); `provisioner rotate` runs the four steps on one Rotation and keeps it between them,
    updated by its own writes, so that a rotation costs six Secrets Manager calls instead of some twenty-five."""

    description: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None
    created_here: bool = False  # the pending value is this run's new random password: it cannot log in yet


@dataclass
class Rotation:
    """One rotation of one secret, identified by its token (the AWSPENDING version id)."""

    store: SecretStore
    secret_id: str
    token: str
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    require_enabled: bool = True
    observer: Callable[[str, dict[str, Any]], None] | None = None
    keep_state: bool = False  # `provisioner rotate`: what was read stays known between steps (see `_Known`)
    # `provisioner rotate`: the AWSPENDING value an interrupted rotation left, which this one replaces. Its
    # password is never set (anyone allowed PutSecretValue could have staged it); it is only tried to log in
    # with, at the recorded endpoint, when the database may hold it (a single-user rotation killed after
    # setSecret).
    replaced: dict[str, Any] | None = None
    _known: _Known = field(default_factory=_Known)

    # ------------------------------------------------------------ checks

    def _describe(self, fresh: bool = False) -> dict[str, Any]:
        if fresh or self._known.description is None:
            self._known.description = self.store.describe(self.secret_id)
        return self._known.description

    def _versions(self, fresh: bool = False) -> dict[str, list[str]]:
        description = self._describe(fresh)
        if self.require_enabled and not description.get("RotationEnabled"):
            raise RotationError(f"rotation is not enabled on secret {self.secret_id}",
                                "configure it with `provisioner apply` (rotation.function and schedule)")
        return description.setdefault("VersionIdsToStages", {})

    def check(self, creating: bool = False, fresh: bool = False) -> bool:
        """AWS's start-of-call checks. False when the token is already AWSCURRENT (nothing to do)."""
        versions = self._versions(fresh)
        if self.token not in versions:
            if creating:
                return True  # `provisioner rotate` mints its own token in createSecret
            raise RotationError(f"version {self.token} of secret {self.secret_id} does not exist")
        stages = versions[self.token]
        if CURRENT in stages:
            log.info("version %s is already AWSCURRENT: nothing to do", self.token)
            return False
        if PENDING not in stages:
            raise RotationError(f"version {self.token} of secret {self.secret_id} is not staged AWSPENDING")
        return True

    def run(self, step: str, creating: bool = False) -> None:
        if step not in STEPS:
            raise RotationError(f"unknown rotation step {step!r}", f"steps: {', '.join(STEPS)}")
        if not self.check(creating=creating and step == "createSecret"):
            self._observe(step, skipped=True)
            return
        # Every step starts by checking the values it will use against where apply put the account.
        self._verify(self._current(), CURRENT)
        if step != "createSecret" and (pending := self._pending_value()) is not None:
            self._verify(pending, PENDING)
        getattr(self, _method(step))()
        self._observe(step)

    def _tags(self) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self._describe().get("Tags", [])}

    def _verify(self, value: dict[str, Any], which: str) -> None:
        verify_endpoint(self.secret_id, self._tags(), value, which)

    def _observe(self, step: str, skipped: bool = False) -> None:
        if not self.observer:
            return
        if self.keep_state:
            stages, username = self._versions(), (self._known.pending or {}).get("username")
        else:
            stages = self.store.describe(self.secret_id).get("VersionIdsToStages", {})
            try:
                username = self.store.get_value(self.secret_id, version=self.token).get("username")
            except SecretsError:
                username = None
        self.observer(step, {"skipped": skipped, "stages": stages, "username": username})

    # ------------------------------------------------------------ values

    def _current(self) -> dict[str, Any]:
        if self._known.current is None:
            self._known.current = self.store.get_value(self.secret_id, CURRENT)
        return self._known.current

    def _pending_value(self) -> dict[str, Any] | None:
        if self._known.pending is not None or (self.keep_state and self.token not in self._versions()):
            return self._known.pending  # known, or a token minted here that has no version yet
        try:
            value = self.store.get_value(self.secret_id, PENDING, version=self.token)
        except SecretsError as exc:
            if exc.code in ("ResourceNotFoundException", "InvalidRequestException"):
                return None
            raise
        self._known.pending = value or None
        return self._known.pending

    # ------------------------------------------------------------ the four steps

    def create_secret(self) -> None:
        current = self._current()
        pending = self._pending_value()
        # A pending value that merely copies AWSCURRENT (moto's RotateSecret leaves one) is no new credential.
        if pending and pending.get("password") and pending.get("password") != current.get("password"):
            log.info("createSecret: AWSPENDING already holds a new credential")
            return
        new = dict(current)
        if "masterarn" in current:
            new["username"] = alternate_username(str(current["username"]))
        new["password"] = self.store.random_password(self.policy.length, self.policy.exclude_characters)
        self.store.put_value(self.secret_id, new, [PENDING], token=self.token)
        # PutSecretValue moves AWSPENDING to the new version.
        versions = self._versions()
        for labels in versions.values():
            if PENDING in labels:
                labels.remove(PENDING)
        versions.setdefault(self.token, []).append(PENDING)
        self._known.pending, self._known.created_here = new, True
        log.info("createSecret: new credential for %s staged AWSPENDING", new["username"])

    def set_secret(self) -> None:
        current = self._current()
        pending = self._pending_value()
        if not pending or not pending.get("password"):
            raise RotationError(f"secret {self.secret_id} has no AWSPENDING value for version {self.token}",
                                "run createSecret first")
        for key in ("engine", "host", "port", "dbname"):
            if str(pending.get(key)) != str(current.get(key)):
                raise RotationError(f"AWSPENDING {key} differs from AWSCURRENT; refusing to set a password there")
        allowed = {current["username"], alternate_username(str(current["username"]))}
        if pending["username"] not in allowed:
            raise RotationError(f"AWSPENDING names user {pending['username']!r}, expected one of {sorted(allowed)}")
        engine = engine_of(current)
        if not self._known.created_here and _logs_in(engine, conninfo(pending)):
            log.info("setSecret: the pending credential already logs in")
            return
        if "masterarn" in current:
            self._set_alternating(engine, current, pending)
        else:
            self._set_single(engine, current, pending)

    def _current_then_previous(self, current: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """AWSCURRENT, then AWSPREVIOUS of the same user (read only when AWSCURRENT does not log in), then the
        pending value this rotation replaces; each only where apply put the account."""
        yield current
        try:
            previous: dict[str, Any] | None = self.store.get_value(self.secret_id, PREVIOUS)
        except SecretsError:
            previous = None
        for value, which in ((previous, PREVIOUS), (self.replaced, "replaced AWSPENDING")):
            if value is None or value.get("username") != current["username"]:
                continue
            try:
                self._verify(value, which)
            except RotationError:
                continue  # an older endpoint (the account moved), or a value someone rewrote: not a place to go
            yield value

    def _set_single(self, engine: Engine, current: dict[str, Any], pending: dict[str, Any]) -> None:
        for value in self._current_then_previous(current):
            try:
                session = engine.connect(conninfo(value))
            except AuthenticationFailed:
                continue
            try:
                with self._locked(session):
                    engine.set_password(session, str(pending["username"]), None, str(pending["password"]))
                log.info("setSecret: %s changed its own password", pending["username"])
                return
            finally:
                session.close()
        raise RotationError(f"neither AWSCURRENT nor AWSPREVIOUS of {self.secret_id} logs in",
                            "run `provisioner apply`: it gives the account a new password when a rotation was left "
                            "pending, or `provisioner apply --reset-password ACCOUNT`")

    def _set_alternating(self, engine: Engine, current: dict[str, Any], pending: dict[str, Any]) -> None:
        if not _logs_in(engine, conninfo(current)):
            raise RotationError(f"AWSCURRENT of {self.secret_id} does not log in; refusing to act as the admin",
                                "repair the current credential first (provisioner apply --reset-password)")
        try:
            admin = self.store.get_value(str(current["masterarn"]), CURRENT)
        except SecretsError as exc:
            raise RotationError(f"cannot read the admin secret (masterarn) of {self.secret_id}: {exc.code}",
                                "the rotation role needs secretsmanager:GetSecretValue on the admin secret") from None
        if not isinstance(admin.get("username"), str) or not isinstance(admin.get("password"), str):
            raise RotationError(f"the admin secret of {self.secret_id} holds no username and password")
        # The admin logs in where AWSCURRENT says, which `run` has checked against the recorded endpoint.
        session = engine.connect(conninfo(current, user=admin["username"], password=admin["password"]))
        try:
            with self._locked(session):
                user = str(pending["username"])
                engine.set_password(session, user, self._host_part(engine, session, user), str(pending["password"]))
        finally:
            session.close()
        log.info("setSecret: the admin set the password of %s", pending["username"])

    def _host_part(self, engine: Engine, session: Session, user: str) -> str | None:
        """MySQL/MariaDB: the host part of the account's user, the one the binding records (a user name may
        exist under several host parts); None elsewhere."""
        hosts = engine.host_parts(session, user)
        if hosts is None:
            return None
        binding = self._tags().get(BINDING_TAG)
        chosen = [h for h in hosts if host_part_matches(binding, h)]
        if len(chosen) != 1:
            raise RotationError(f"user {user!r} exists under host part(s) {', '.join(hosts) or 'none'}, none of "
                                f"which is the one apply recorded for secret {self.secret_id}",
                                "run `provisioner apply` (it creates the account and records it)")
        return chosen[0]

    @contextmanager
    def _locked(self, session: Session) -> Iterator[None]:
        """The target's lock, shared with other rotations and never held with an apply, so a password never
        changes in the middle of an apply; then a last check, read afresh, that the token is still the pending
        version (an apply may have replaced it)."""
        tags = {t["Key"]: t["Value"] for t in self._describe().get("Tags", [])}
        target = tags.get(TARGET_TAG)
        if not target:
            yield
            return
        with session.target_lock(target, timeout_seconds=LOCK_WAIT_SECONDS, shared=True):
            if not self.check(fresh=True):
                raise RotationError(f"version {self.token} of {self.secret_id} became current while waiting")
            yield

    def test_secret(self) -> None:
        pending = self._pending_value()
        if not pending:
            raise RotationError(f"secret {self.secret_id} has no AWSPENDING value for version {self.token}")
        try:
            engine_of(pending).check_login(conninfo(pending))
        except AuthenticationFailed:
            raise RotationError(f"the AWSPENDING credential of {self.secret_id} does not log in",
                                "run setSecret again") from None
        log.info("testSecret: %s logs in with the pending password", pending["username"])

    def finish_secret(self) -> None:
        # `promote` also clears AWSPENDING: the service does it itself after a Lambda rotation; moto and `rotate`
        # need it done.
        versions = self._versions() if self.keep_state else None
        self.store.promote(self.secret_id, self.token, versions)
        if versions is not None:  # as promote left them: the former AWSCURRENT is now AWSPREVIOUS
            for labels in versions.values():
                for label in (PREVIOUS, PENDING):
                    if label in labels:
                        labels.remove(label)
                if CURRENT in labels:
                    labels[labels.index(CURRENT)] = PREVIOUS
            versions[self.token] = [CURRENT]
        log.info("finishSecret: version %s is AWSCURRENT", self.token)


def _method(step: str) -> str:
    return {"createSecret": "create_secret", "setSecret": "set_secret", "testSecret": "test_secret",
            "finishSecret": "finish_secret"}[step]


def _logs_in(engine: Engine, info: ConnInfo) -> bool:
    try:
        engine.check_login(info)
        return True
    except AuthenticationFailed:
        return False


# ---------------------------------------------------------------- entry points


def rotate_now(store: SecretStore, secret_id: str, policy: PasswordPolicy | None = None,
               observer: Callable[[str, dict[str, Any]], None] | None = None) -> str:
    """Run the four steps now (`provisioner rotate`), with a new version. An AWSPENDING version an interrupted
    rotation left is replaced, never finished with its own password (see `Rotation.replaced`).

    Returns the token of the rotation.
    """
    description = store.describe(secret_id)
    versions = description.get("VersionIdsToStages", {})
    left = next((v for v, s in versions.items() if PENDING in s and CURRENT not in s), None)
    replaced = None
    if left is not None:
        try:
            replaced = store.get_value(secret_id, version=left) or None
        except SecretsError:
            replaced = None
    rotation = Rotation(store, secret_id, str(uuid.uuid4()), policy or PasswordPolicy(), require_enabled=False,
                        observer=observer, keep_state=True, replaced=replaced,
                        _known=_Known(description=description))
    for step in STEPS:
        rotation.run(step, creating=True)
        faults.checkpoint(f"after-{step}")
    return rotation.token
