"""The closed vocabulary of changes the diff produces, and the one order they run in.

Changes are engine-neutral facts ("grant SELECT on these tables to X"), never SQL. Engines compile database
changes into statements; the apply pipeline carries out secret changes. Every consumer dispatches with `match`
over `AnyChange` and ends in `assert_never`, so a new change type that some consumer forgets is a mypy error.
"""

from __future__ import annotations

from typing import TypeAlias

from provisioner.core.changes.base import ADD, CHANGE, DESTROY, Action, Change, SettingChange
from provisioner.core.changes.database import (
    AlterMembership,
    AlterOwner,
    AlterRole,
    CreateRole,
    DefaultPrivilegeChange,
    DropOwned,
    DropRole,
    GrantDefaultPrivileges,
    GrantMembership,
    GrantPrivileges,
    MembershipChange,
    PrivilegeChange,
    ReassignOwned,
    RestoreColumnPrivileges,
    RevokeDefaultPrivileges,
    RevokeGrantOption,
    RevokeMembership,
    RevokePrivileges,
    SetDefaultRoles,
    SetPassword,
    TerminateSessions,
    ToGrantees,
)
from provisioner.core.changes.secret import (
    ConfigureRotation,
    ConfirmPassword,
    CreateSecret,
    DeleteSecret,
    DisableRotation,
    FinishPendingPassword,
    ResetPassword,
    SecretChange,
    UpdateSecret,
)
from provisioner.core.changes.settings import (
    Attributes,
    Authentication,
    Comment,
    ConnectionLimit,
    Login,
    RequireTls,
    RoleSetting,
    SecretDescription,
    SecretFields,
    SecretKmsKey,
    SecretReplicas,
    SecretSetting,
    SecretTags,
    SessionRole,
    Settings,
)

__all__ = [
    "ADD",
    "CHANGE",
    "DESTROY",
    "ORDER",
    "Action",
    "AlterMembership",
    "AlterOwner",
    "AlterRole",
    "AnyChange",
    "Attributes",
    "Authentication",
    "Change",
    "Comment",
    "ConfigureRotation",
    "ConfirmPassword",
    "ConnectionLimit",
    "CreateRole",
    "CreateSecret",
    "DatabaseChange",
    "DefaultPrivilegeChange",
    "DeleteSecret",
    "DisableRotation",
    "DropOwned",
    "DropRole",
    "FinishPendingPassword",
    "GrantDefaultPrivileges",
    "GrantMembership",
    "GrantPrivileges",
    "Login",
    "MembershipChange",
    "PrivilegeChange",
    "ReassignOwned",
    "RequireTls",
    "ResetPassword",
    "RestoreColumnPrivileges",
    "RevokeDefaultPrivileges",
    "RevokeGrantOption",
    "RevokeMembership",
    "RevokePrivileges",
    "RoleSetting",
    "SecretChange",
    "SecretDescription",
    "SecretFields",
    "SecretKmsKey",
    "SecretOnlyChange",
    "SecretReplicas",
    "SecretSetting",
    "SecretTags",
    "SessionRole",
    "SetDefaultRoles",
    "SetPassword",
    "SettingChange",
    "Settings",
    "TerminateSessions",
    "ToGrantees",
    "UpdateSecret",
    "in_order",
    "rank",
]

# ---------------------------------------------------------------- the closed sets and the order

DatabaseChange: TypeAlias = (
    CreateRole | AlterRole | DropRole | SetPassword | GrantMembership | AlterMembership | RevokeMembership
    | SetDefaultRoles | AlterOwner
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
    # Before grants: a transfer rewrites the object's ACL (the old owner's entries become the new owner's), so
    # what the file grants the old owner is granted after it.
    (AlterOwner,),
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
