"""The closed vocabulary of changes the diff produces, and the one order they run in.

Changes are engine-neutral facts ("grant SELECT on these tables to X"), never SQL. Engines compile database
changes into statements; the apply pipeline carries out secret changes. Every consumer dispatches with `match`
over `AnyChange` and ends in `assert_never`, so a new change type that some consumer forgets is a mypy error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeAlias

from provisioner.core.kinds import ObjectKind
from provisioner.core.model import ObjectRef

Action: TypeAlias = Literal["+", "~", "-"]
ADD: Action = "+"
CHANGE: Action = "~"
DESTROY: Action = "-"


@dataclass(frozen=True, kw_only=True)
class Change:
    action: Action
    target: str
    principal: str  # the account or role this change belongs to
    implied: bool = False
    # PostgreSQL clusters: the database the change runs in when it is not the one the admin connects to (object
    # privileges, default privileges, REASSIGN/DROP OWNED); '' for that one and for cluster-wide changes.
    database: str = ""
    # SPEC 8: why this change widens power beyond object privileges (a role attribute such as SUPERUSER,
    # membership in a predefined or admin role, ADMIN OPTION), or ''. Plans flag such changes as they flag
    # destructive ones.
    widens: str = ""
    # Whether the change sends statements to the database (secret-only changes do not).
    touches_database: ClassVar[bool] = True

    @property
    def type_name(self) -> str:
        name = type(self).__name__
        return "".join("_" + ch.lower() if ch.isupper() else ch for ch in name).lstrip("_")

    @property
    def is_database(self) -> bool:
        return self.touches_database

    @property
    def destructive(self) -> bool:
        return self.action == DESTROY


# ---------------------------------------------------------------- role settings (typed, one class per kind)


@dataclass(frozen=True)
class Login:
    name: ClassVar[str] = "login"
    value: bool


@dataclass(frozen=True)
class ConnectionLimit:
    name: ClassVar[str] = "connection_limit"
    value: int | None  # None = unlimited


@dataclass(frozen=True)
class Attributes:
    """Role attributes beyond LOGIN (SUPERUSER, CREATEDB, NOINHERIT, ...); a managed role holds those its entry
    lists, and no other."""

    name: ClassVar[str] = "attributes"
    value: tuple[str, ...]


@dataclass(frozen=True)
class Comment:
    name: ClassVar[str] = "comment"
    value: str | None


@dataclass(frozen=True)
class RequireTls:
    name: ClassVar[str] = "require_tls"
    value: bool


@dataclass(frozen=True)
class SessionRole:
    name: ClassVar[str] = "session_role"
    value: str | None


@dataclass(frozen=True)
class Settings:
    """PostgreSQL configuration settings of a role: (database, parameter, value), database '' meaning every
    database; a managed role holds those its entry lists, and no other (the session `role` apart)."""

    name: ClassVar[str] = "settings"
    value: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Authentication:
    """How an account proves itself: "password" (from its secret) or "iam" (RDS IAM database authentication)."""

    name: ClassVar[str] = "auth"
    value: str


RoleSetting: TypeAlias = (Login | ConnectionLimit | Attributes | Comment | RequireTls | SessionRole | Settings
                          | Authentication)


class SettingChange:
    """What AlterRole and UpdateSecret share: one typed setting going from `was` to `to` (of the same type), shown
    in plans and plan JSON as the setting's name and its plain old and new values."""

    was: RoleSetting | SecretSetting
    to: RoleSetting | SecretSetting

    @property
    def setting(self) -> str:
        return self.to.name

    @property
    def old(self) -> object:
        return self.was.value

    @property
    def new(self) -> object:
        return self.to.value


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
    attributes: tuple[str, ...] = ()  # PostgreSQL role attributes beyond LOGIN
    auth: str = "password"  # iam: no password (PostgreSQL: granted rds_iam; MySQL: AWSAuthenticationPlugin)


@dataclass(frozen=True, kw_only=True)
class AlterRole(SettingChange, Change):
    """One setting of a role changes from `was` to `to` (both of the same setting type)."""

    name: str
    was: RoleSetting
    to: RoleSetting
    host: str = "%"


@dataclass(frozen=True, kw_only=True)
class DropRole(Change):
    name: str
    host: str = "%"


@dataclass(frozen=True, kw_only=True)
class SetPassword(Change):
    """Set the role's password to the secret's AWSCURRENT value."""

    name: str
    secret: str
    reason: str
    host: str = "%"


@dataclass(frozen=True, kw_only=True)
class MembershipChange(Change):
    """Shared shape of GrantMembership and RevokeMembership (not itself a change type): `member` in `role`."""

    role: str
    member: str
    host: str = "%"  # the member's host part (MySQL/MariaDB)


@dataclass(frozen=True, kw_only=True)
class GrantMembership(MembershipChange):
    options: tuple[tuple[str, bool], ...] = ()  # PostgreSQL: admin/inherit/set as the file gives them


@dataclass(frozen=True, kw_only=True)
class AlterMembership(MembershipChange):
    """PostgreSQL: an existing membership's options change (`old` as the server holds them, `new` as declared)."""

    old: tuple[tuple[str, bool], ...]
    new: tuple[tuple[str, bool], ...]


@dataclass(frozen=True, kw_only=True)
class RevokeMembership(MembershipChange):
    pass


@dataclass(frozen=True, kw_only=True)
class SetDefaultRoles(Change):
    """MySQL/MariaDB: the roles active at login (after the memberships exist, before any is revoked)."""

    name: str
    host: str
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ToGrantees(Change):
    """Privileges given to or taken from a grantee, and more grantees in the same statement (batched execution)."""

    grantee: str
    privileges: tuple[str, ...]
    also: tuple[tuple[str, str], ...] = ()  # more (grantee, host)

    @property
    def grantees(self) -> tuple[tuple[str, str], ...]:
        return ((self.grantee, self.grantee_host), *self.also)

    @property
    def grantee_host(self) -> str:
        return "%"


@dataclass(frozen=True, kw_only=True)
class PrivilegeChange(ToGrantees):
    """Shared shape of GrantPrivileges and RevokePrivileges (not itself a change type)."""

    kind: ObjectKind
    schema: str
    objects: tuple[ObjectRef, ...]
    all_in_schema: bool = False
    host: str = "%"

    @property
    def grantee_host(self) -> str:
        return self.host


@dataclass(frozen=True, kw_only=True)
class GrantPrivileges(PrivilegeChange):
    pass


@dataclass(frozen=True, kw_only=True)
class RevokePrivileges(PrivilegeChange):
    # PostgreSQL: the role that made the grant when it is neither the owner nor the admin (a REVOKE removes only
    # the revoking role's grants): the revoke runs as that role.
    grantor: str = ""


@dataclass(frozen=True, kw_only=True)
class RestoreColumnPrivileges(PrivilegeChange):
    """Declared column privileges granted (again) after a table-level revoke of the same privilege on their table:
    both servers cascade such a revoke to the columns, which would otherwise lose what the file declares."""


@dataclass(frozen=True, kw_only=True)
class RevokeGrantOption(PrivilegeChange):
    """The privileges stay, the right to grant them on goes (the file can never declare a grant option)."""


@dataclass(frozen=True, kw_only=True)
class TerminateSessions(Change):
    """PostgreSQL: end the open sessions of a role that is retired (after its LOGIN is revoked)."""

    name: str


@dataclass(frozen=True, kw_only=True)
class ReassignOwned(Change):
    """PostgreSQL: the objects a retired role owns pass to `to` (REASSIGN OWNED), before DROP OWNED."""

    name: str
    to: str


@dataclass(frozen=True, kw_only=True)
class DropOwned(Change):
    """PostgreSQL, before DROP ROLE: `DROP OWNED BY` takes every privilege and default-privilege entry the role
    still has in the database, whoever granted it (the role owns no object: that is checked first)."""

    name: str


@dataclass(frozen=True, kw_only=True)
class DefaultPrivilegeChange(ToGrantees):
    """Shared shape of Grant/RevokeDefaultPrivileges (not itself a change type)."""

    owner: str
    schema: str
    kind: ObjectKind

    @property
    def host(self) -> str:
        return "%"


@dataclass(frozen=True, kw_only=True)
class GrantDefaultPrivileges(DefaultPrivilegeChange):
    pass


@dataclass(frozen=True, kw_only=True)
class RevokeDefaultPrivileges(DefaultPrivilegeChange):
    pass


# ---------------------------------------------------------------- secret changes


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


@dataclass(frozen=True)
class SecretFields:
    """The credential JSON of the secret, without its password."""

    name: ClassVar[str] = "value"
    value: Mapping[str, object]


@dataclass(frozen=True)
class SecretDescription:
    name: ClassVar[str] = "description"
    value: str | None


@dataclass(frozen=True)
class SecretKmsKey:
    name: ClassVar[str] = "kms_key"
    value: str | None  # None = the AWS managed key


@dataclass(frozen=True)
class SecretTags:
    name: ClassVar[str] = "tags"
    value: Mapping[str, str]


SecretSetting: TypeAlias = SecretFields | SecretDescription | SecretKmsKey | SecretTags


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


# ---------------------------------------------------------------- the closed sets and the order

DatabaseChange: TypeAlias = (
    CreateRole | AlterRole | DropRole | SetPassword | GrantMembership | AlterMembership | RevokeMembership
    | SetDefaultRoles
    | GrantPrivileges | RevokePrivileges | RestoreColumnPrivileges | RevokeGrantOption | GrantDefaultPrivileges
    | RevokeDefaultPrivileges | TerminateSessions | ReassignOwned | DropOwned | ResetPassword | FinishPendingPassword
)
SecretOnlyChange: TypeAlias = (
    CreateSecret | UpdateSecret | ConfirmPassword | ConfigureRotation | DisableRotation | DeleteSecret
)
AnyChange: TypeAlias = DatabaseChange | SecretOnlyChange

# Execution order: secrets that must exist before the database, then creations and grants, revocations, drops,
# and secret work that follows the database. Changes in one group keep the order the diff produced them in.
ORDER: tuple[tuple[type[Change], ...], ...] = (
    (CreateSecret, ConfirmPassword, ResetPassword),
    (CreateRole,),
    (AlterRole,),
    (TerminateSessions,),  # after LOGIN is revoked (AlterRole), so no new session replaces them
    (SetPassword, FinishPendingPassword),
    (GrantMembership, AlterMembership),
    (SetDefaultRoles,),
    (GrantPrivileges,),
    (GrantDefaultPrivileges,),
    (RevokeDefaultPrivileges,),
    # Revokes of other grantors' grants run before grant options are taken from a managed grantor.
    (RevokePrivileges,),
    (RestoreColumnPrivileges,),
    (RevokeGrantOption,),
    (RevokeMembership,),
    (ReassignOwned,),
    (DropOwned,),
    (DropRole,),
    (UpdateSecret,),
    (ConfigureRotation, DisableRotation),
    (DeleteSecret,),
)
_RANK: dict[type[Change], int] = {kind: rank for rank, group in enumerate(ORDER) for kind in group}


def rank(change: Change) -> int:
    """Position of a change's type in ORDER (KeyError for a type outside the vocabulary)."""
    return _RANK[type(change)]


def in_order(changes: list[AnyChange]) -> list[AnyChange]:
    """The changes in the order they run: by ORDER. In a PostgreSQL cluster, whose transactions cannot span
    databases, those of the other databases run after the connected database's memberships (the roles exist,
    committed) and before its REASSIGN/DROP OWNED and DROP ROLE (the other databases have let go of the roles)."""
    late = _RANK[ReassignOwned]

    def key(change: AnyChange) -> tuple[int, str, int]:
        position = rank(change)
        if change.database:
            return (1, change.database, position)
        return (2 if position >= late else 0, "", position)

    return sorted(changes, key=key)
