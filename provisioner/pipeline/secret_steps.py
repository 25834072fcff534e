"""The crash-safe secret protocol, as one table: for each change that touches a secret or a password, what
runs before the database transaction, where its database statement takes its password, and what runs after
the commit. `apply` runs three generic passes over this table.

The order never loses a credential (SPEC 3): a new account's secret is written (tagged `provisioner:sync=pending`)
before any database password; a new password for an existing account is written as AWSPENDING (tagged
`provisioner:sync=version:ID`) and promoted only after the database committed it. A crash anywhere leaves
either no account, or one whose AWSCURRENT logs in, or a marker from which the next run converges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, assert_never

from provisioner.core import changes as c
from provisioner.core.conventions import ROTATION_TAG, SYNC_PENDING, SYNC_TAG, sync_version
from provisioner.core.secret_value import CURRENT, MANAGED_FIELDS, PASSWORD, PENDING, USERNAME
from provisioner.errors import ProvisionerError


class Store(Protocol):
    """What the protocol asks of Secrets Manager (`secrets.store.SecretStore`, or a fake in unit tests)."""

    def random_password(self, length: int, exclude_characters: str) -> str: ...
    def create(self, name: str, value: Mapping[str, Any], kms_key: str | None, description: str,
               tags: Mapping[str, str]) -> str: ...
    def get_value(self, secret_id: str, stage: str = CURRENT, version: str | None = None) -> dict[str, Any]: ...
    def put_value(self, secret_id: str, value: Mapping[str, Any], stages: list[str],
                  token: str | None = None) -> str: ...
    def promote(self, secret_id: str, version: str) -> None: ...
    def tag(self, secret_id: str, tags: Mapping[str, str]) -> None: ...
    def untag(self, secret_id: str, keys: list[str]) -> None: ...
    def update(self, secret_id: str, description: str | None = None, kms_key: str | None = None) -> None: ...
    def configure_rotation(self, secret_id: str, function: str, rules: Mapping[str, object],
                           rotate_immediately: bool) -> None: ...
    def cancel_rotation(self, secret_id: str) -> None: ...
    def delete(self, secret_id: str, recovery_days: int) -> None: ...
    def replicate(self, secret_id: str, wanted: Mapping[str, str]) -> tuple[list[str], list[str]]: ...


@dataclass
class Passwords:
    """Passwords written to secrets during this apply, by secret name (never printed)."""

    current: dict[str, str] = field(default_factory=dict)
    pending: dict[str, tuple[str, str]] = field(default_factory=dict)  # secret -> (version, password)


Note = Callable[[str], None]  # records a line of what was done, for the apply report
Before = Callable[[Any, Store, Passwords, Note], None]
Source = Callable[[Any, Store, Passwords], str | None]
After = Callable[[Any, Store, Passwords, Note], None]


@dataclass(frozen=True)
class SecretStep:
    before: Before | None = None  # before the database transaction
    password: Source | None = None  # the password its database statement sets
    after: After | None = None  # after the database commit (still under the target's lock)
    # When the step counts as done for the failure report: after `before`, the database, or `after`.
    completes: Literal["before", "database", "after"] = "after"


# ---------------------------------------------------------------- before the database


def _create_secret(change: c.CreateSecret, store: Store, passwords: Passwords, note: Note) -> None:
    password = store.random_password(change.password_length, change.exclude_characters)
    store.create(change.secret, {**change.fields, PASSWORD: password}, change.kms_key, change.description,
                 {**change.tags, SYNC_TAG: SYNC_PENDING})
    passwords.current[change.secret] = password
    note(f"+ secret {change.secret} created")


def _write_pending(change: c.ResetPassword, store: Store, passwords: Passwords, note: Note) -> None:
    current = store.get_value(change.secret, CURRENT)
    password = store.random_password(change.password_length, change.exclude_characters)
    # The fields the account should have replace what the value holds of them (a value writer may have changed
    # them, a strategy switch drops `masterarn`); fields nobody manages (`ssl`, a team's own) are carried over.
    kept = {k: v for k, v in current.items() if k not in MANAGED_FIELDS} if change.fields else current
    value = {**kept, **change.fields, USERNAME: change.name, PASSWORD: password}
    version = store.put_value(change.secret, value, [PENDING])
    store.tag(change.secret, {SYNC_TAG: sync_version(version)})
    passwords.pending[change.secret] = (version, password)
    note(f"~ secret {change.secret}: new password written as AWSPENDING")


# ---------------------------------------------------------------- the password a statement sets


def checked(value: Mapping[str, Any], secret: str, user: str) -> str:
    """The password of a secret value, after making sure it belongs to the user about to receive it."""
    password = value.get(PASSWORD)
    if value.get(USERNAME) not in (None, user) or not isinstance(password, str) or not password:
        raise ProvisionerError(f"secret {secret} names user {str(value.get(USERNAME))[:80]!r} or holds no "
                               f"password, not the credentials of {user!r}",
                               "run plan again: the secret changed while apply ran")
    return password


def _current_password(change: c.CreateRole | c.SetPassword, store: Store, passwords: Passwords) -> str | None:
    if not change.secret:
        return None
    if change.secret in passwords.current:
        return passwords.current[change.secret]
    return checked(store.get_value(change.secret, CURRENT), change.secret, change.name)


def _pending_password(change: c.ResetPassword, store: Store, passwords: Passwords) -> str:
    return passwords.pending[change.secret][1]


def _interrupted_password(change: c.FinishPendingPassword, store: Store, passwords: Passwords) -> str:
    password = checked(store.get_value(change.secret, version=change.version), change.secret, change.name)
    passwords.pending[change.secret] = (change.version, password)
    return password


# ---------------------------------------------------------------- after the commit


def _clear_sync(change: c.CreateSecret | c.ConfirmPassword, store: Store, passwords: Passwords, note: Note) -> None:
    store.untag(change.secret, [SYNC_TAG])


def _promote(change: c.ResetPassword | c.FinishPendingPassword, store: Store, passwords: Passwords,
             note: Note) -> None:
    version, _ = passwords.pending[change.secret]
    store.promote(change.secret, version)
    store.untag(change.secret, [SYNC_TAG])
    note(f"~ secret {change.secret}: new password promoted to AWSCURRENT")


def _configure_rotation(change: c.ConfigureRotation, store: Store, passwords: Passwords, note: Note) -> None:
    store.configure_rotation(change.secret, change.function, change.rules, change.rotate_immediately)
    store.tag(change.secret, {ROTATION_TAG: change.fingerprint})
    note(f"~ secret {change.secret}: rotation configured")


def _disable_rotation(change: c.DisableRotation, store: Store, passwords: Passwords, note: Note) -> None:
    store.cancel_rotation(change.secret)
    store.untag(change.secret, [ROTATION_TAG])
    note(f"~ secret {change.secret}: rotation disabled")


def _update_secret(change: c.UpdateSecret, store: Store, passwords: Passwords, note: Note) -> None:
    match change.to:
        case c.SecretFields(value):
            current = store.get_value(change.secret, CURRENT)
            # Fields the diff compared and the manifest no longer asks for (masterarn of an alternating account
            # that became single) go; the password and fields it does not manage stay.
            dropped = set(change.old) - set(value) if isinstance(change.old, Mapping) else set()
            kept = {k: v for k, v in current.items() if k not in dropped}
            store.put_value(change.secret, {**kept, **value}, [CURRENT])
        case c.SecretDescription(value):
            store.update(change.secret, description=str(value))
        case c.SecretKmsKey(value):
            store.update(change.secret, kms_key=value or "alias/aws/secretsmanager")
        case c.SecretTags(value):
            old = change.was.value if isinstance(change.was, c.SecretTags) else {}
            store.tag(change.secret, dict(value))
            store.untag(change.secret, [k for k in old if k not in value])
        case c.SecretReplicas(value):
            added, removed = store.replicate(change.secret, dict(value))
            note(f"~ secret {change.secret}: replicated to {', '.join(added) or 'no new region'}"
                 + (f", replicas removed from {', '.join(removed)}" if removed else ""))
            return
        case _:
            assert_never(change.to)
    note(f"~ secret {change.secret}: {change.setting} updated")


def _delete_secret(change: c.DeleteSecret, store: Store, passwords: Passwords, note: Note) -> None:
    store.delete(change.secret, change.recovery_days)
    note(f"- secret {change.secret} scheduled for deletion in {change.recovery_days} days")


# ---------------------------------------------------------------- the table

PROTOCOL: dict[type[c.Change], SecretStep] = {
    c.CreateSecret: SecretStep(before=_create_secret, after=_clear_sync, completes="before"),
    c.ResetPassword: SecretStep(before=_write_pending, password=_pending_password, after=_promote),
    c.FinishPendingPassword: SecretStep(password=_interrupted_password, after=_promote),
    c.ConfirmPassword: SecretStep(after=_clear_sync),
    c.CreateRole: SecretStep(password=_current_password, completes="database"),
    c.SetPassword: SecretStep(password=_current_password, completes="database"),
    c.UpdateSecret: SecretStep(after=_update_secret),
    c.ConfigureRotation: SecretStep(after=_configure_rotation),
    c.DisableRotation: SecretStep(after=_disable_rotation),
    c.DeleteSecret: SecretStep(after=_delete_secret),
}
DATABASE_ONLY = SecretStep(completes="database")


def step_of(change: c.AnyChange) -> SecretStep:
    """The protocol row of a change. Exhaustive over the change vocabulary (mypy checks the `assert_never`): a new
    change type is declared here as touching a secret (a PROTOCOL row) or as database-only, never by default."""
    match change:
        case (c.CreateSecret() | c.ResetPassword() | c.FinishPendingPassword() | c.ConfirmPassword() | c.CreateRole()
              | c.SetPassword() | c.UpdateSecret() | c.ConfigureRotation() | c.DisableRotation() | c.DeleteSecret()):
            return PROTOCOL[type(change)]
        case (c.AlterRole() | c.DropRole() | c.GrantMembership() | c.AlterMembership() | c.RevokeMembership()
              | c.SetDefaultRoles() | c.GrantPrivileges() | c.RevokePrivileges() | c.RestoreColumnPrivileges()
              | c.RevokeGrantOption() | c.GrantDefaultPrivileges() | c.RevokeDefaultPrivileges()
              | c.TerminateSessions() | c.ReassignOwned() | c.DropOwned() | c.AlterOwner()):
            return DATABASE_ONLY
        case _:
            assert_never(change)
