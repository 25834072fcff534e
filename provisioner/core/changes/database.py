"""The changes a database carries out: roles (create, alter, drop, passwords, memberships, default roles),
privileges and default privileges (grant, revoke, grant options, restored columns), object owners, and
retirement (sessions, REASSIGN OWNED, DROP OWNED)."""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.core.changes.base import Change, SettingChange
from provisioner.core.changes.settings import RoleSetting
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import ObjectRef


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
class AlterOwner(Change):
    """PostgreSQL: an object gets the owner the manifest declares (`owns:`), which then holds every privilege
    on it; the old owner keeps none (what the file grants it is granted after the transfer)."""

    kind: ObjectKind
    obj: ObjectRef
    owner: str  # the new owner
    was: str  # the owner the server lists now


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
