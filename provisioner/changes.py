"""The plan: ordered changes that the diff produces and that renderers and the executor consume.

Changes are engine-neutral facts ("grant SELECT on these tables to X"), never SQL. Engines turn database
changes into statements; the secrets store carries out secret changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .model import ObjectRef

ADD, CHANGE, DESTROY = "+", "~", "-"


@dataclass(frozen=True, kw_only=True)
class Change:
    action: str
    target: str
    principal: str  # the account or role this change belongs to
    implied: bool = False

    @property
    def type_name(self) -> str:
        name = type(self).__name__
        return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")

    @property
    def is_database(self) -> bool:
        return True

    @property
    def destructive(self) -> bool:
        return self.action == DESTROY


# ---------------------------------------------------------------- database changes


@dataclass(frozen=True, kw_only=True)
class CreateRole(Change):
    name: str
    login: bool
    connection_limit: int | None
    comment: str
    host: str = "%"
    require_tls: bool = False
    session_role: str | None = None
    secret: str | None = None  # login accounts: created with the password of this secret's AWSCURRENT


@dataclass(frozen=True, kw_only=True)
class AlterRole(Change):
    name: str
    setting: str  # connection_limit | login | attributes | comment | require_tls | session_role
    old: object
    new: object
    host: str = "%"


@dataclass(frozen=True, kw_only=True)
class DropRole(Change):
    name: str
    host: str = "%"


@dataclass(frozen=True, kw_only=True)
class SetPassword(Change):
    """Set the role's password to the secret's AWSCURRENT value (or, when `version` is given, that version)."""

    name: str
    secret: str
    reason: str
    version: str | None = None
    host: str = "%"


@dataclass(frozen=True, kw_only=True)
class GrantMembership(Change):
    role: str
    member: str
    host: str = "%"


@dataclass(frozen=True, kw_only=True)
class RevokeMembership(Change):
    role: str
    member: str
    host: str = "%"


@dataclass(frozen=True, kw_only=True)
class SetDefaultRoles(Change):
    """MySQL/MariaDB: the roles active at login (after the memberships exist, before any is revoked)."""

    name: str
    host: str
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class GrantPrivileges(Change):
    grantee: str
    kind: str
    schema: str
    objects: tuple[ObjectRef, ...]
    privileges: tuple[str, ...]
    all_in_schema: bool = False
    host: str = "%"
    also: tuple[tuple[str, str], ...] = ()  # more (grantee, host) in the same statement (batched execution)

    @property
    def grantees(self) -> tuple[tuple[str, str], ...]:
        return ((self.grantee, self.host), *self.also)


@dataclass(frozen=True, kw_only=True)
class RevokePrivileges(GrantPrivileges):
    pass


@dataclass(frozen=True, kw_only=True)
class GrantDefaultPrivileges(Change):
    owner: str
    schema: str
    kind: str
    grantee: str
    privileges: tuple[str, ...]
    also: tuple[tuple[str, str], ...] = ()  # more grantees in the same statement (batched execution)

    @property
    def grantees(self) -> tuple[tuple[str, str], ...]:
        return ((self.grantee, "%"), *self.also)


@dataclass(frozen=True, kw_only=True)
class RevokeDefaultPrivileges(GrantDefaultPrivileges):
    pass


# ---------------------------------------------------------------- secret changes


@dataclass(frozen=True, kw_only=True)
class SecretChange(Change):
    secret: str

    @property
    def is_database(self) -> bool:
        return False


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
class UpdateSecret(SecretChange):
    setting: str  # value | description | kms_key | tags
    old: object
    new: object


@dataclass(frozen=True, kw_only=True)
class ConfirmPassword(SecretChange):
    """The secret was written but the database password was not confirmed (an interrupted apply)."""


@dataclass(frozen=True, kw_only=True)
class ResetPassword(SecretChange):
    """A new password: written as AWSPENDING, set in the database, then promoted to AWSCURRENT."""

    name: str
    password_length: int = 32
    exclude_characters: str = ""
    host: str = "%"

    @property
    def is_database(self) -> bool:
        return True


@dataclass(frozen=True, kw_only=True)
class FinishPendingPassword(SecretChange):
    """An AWSPENDING version left by an interrupted password change: set it in the database, promote it."""

    name: str
    version: str
    host: str = "%"

    @property
    def is_database(self) -> bool:
        return True


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


@dataclass
class Step:
    """A change with its display text (SQL for database changes, a description for secret changes)."""

    change: Change
    lines: tuple[str, ...]


@dataclass
class TargetPlan:
    target: str
    engine: str
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queries: int = 0
    secrets_calls: int = 0
    labels: dict[str, str] = field(default_factory=dict)  # principal -> "account" | "role"

    @property
    def changes(self) -> list[Change]:
        return [s.change for s in self.steps]

    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "destroy": 0}
        for change in self.changes:
            counts[{ADD: "add", CHANGE: "change", DESTROY: "destroy"}[change.action]] += 1
        return counts


@dataclass
class Plan:
    targets: list[TargetPlan]
    mode: str = "plan"  # plan | diff

    def counts(self) -> dict[str, int]:
        total = {"add": 0, "change": 0, "destroy": 0}
        for target in self.targets:
            for key, value in target.counts().items():
                total[key] += value
        return total

    @property
    def has_changes(self) -> bool:
        return any(t.steps for t in self.targets)

    @property
    def errors(self) -> list[str]:
        return [e for t in self.targets for e in t.errors]
