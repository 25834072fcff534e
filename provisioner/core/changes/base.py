"""What every change has: its action (+ ~ -), target, principal, database, whether it widens power; and what the
changes of one typed setting share (AlterRole, UpdateSecret)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, TypeAlias

if TYPE_CHECKING:
    from provisioner.core.changes.settings import RoleSetting, SecretSetting

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
