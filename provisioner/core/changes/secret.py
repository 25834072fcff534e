"""The changes of a secret: create, update one setting, confirm or reset a password, finish an interrupted one,
configure or disable rotation, delete. The apply pipeline carries them out (`pipeline.secret_steps`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from provisioner.core.changes.base import Change, SettingChange
from provisioner.core.changes.settings import SecretSetting


@dataclass(frozen=True, kw_only=True)
class SecretChange(Change):
    secret: str
    touches_database: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class CreateSecret(SecretChange):
    fields: Mapping[str, object]  # the RDS-credential JSON without the password
    kms_key: str | None
    description: str
    tags: Mapping[str, str]
    password_length: int = 32
    exclude_characters: str = ""
    reuse_existing: bool = False  # a scheduled-for-deletion secret of the same name is restored




@dataclass(frozen=True, kw_only=True)
class UpdateSecret(SettingChange, SecretChange):
    was: SecretSetting
    to: SecretSetting


@dataclass(frozen=True, kw_only=True)
class ConfirmPassword(SecretChange):
    """The secret was written but the database password was not confirmed (an interrupted apply)."""


@dataclass(frozen=True, kw_only=True)
class ResetPassword(SecretChange):
    """A new password: written as AWSPENDING (with `fields`, the credential JSON the account should have, for
    user `name`), set in the database, then promoted to AWSCURRENT."""

    name: str
    password_length: int = 32
    exclude_characters: str = ""
    host: str = "%"
    fields: Mapping[str, object] = field(default_factory=dict)
    reason: str = "asked for (--reset-password)"
    touches_database: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class FinishPendingPassword(SecretChange):
    """An AWSPENDING version left by an interrupted password change: set it in the database, promote it."""

    name: str
    version: str
    host: str = "%"
    touches_database: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class ConfigureRotation(SecretChange):
    """RotateSecret with the Lambda ARN and RotationRules; the fingerprint is recorded in a tag."""

    function: str
    rules: Mapping[str, object]
    rotate_immediately: bool
    fingerprint: str
    was: str


@dataclass(frozen=True, kw_only=True)
class DisableRotation(SecretChange):
    """CancelRotateSecret: the manifest asks for no Lambda rotation."""


@dataclass(frozen=True, kw_only=True)
class DeleteSecret(SecretChange):
    recovery_days: int
