"""The engine interface: what the rest of the tool asks of a database engine.

An engine connects, inspects (a constant number of catalog queries -> DatabaseState), compiles plan changes
into statements (a pure function of the change and the dialect), executes them under a lock, and checks or
changes a password (for rotation). Everything engine-specific lives behind this interface; the diff and the
secrets code know no SQL. The engine facts registry (ports, aliases, name limits, reserved names, privilege
vocabulary) is pure data in `core.engine_facts`, re-exported here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from provisioner.core.changes import AnyChange
from provisioner.core.conventions import EVERY_ROLE, DropScope
from provisioner.core.engine_facts import ENGINES, EngineFacts, facts
from provisioner.core.model import ConnInfo, DatabaseState, Traits
from provisioner.errors import ProvisionerError

__all__ = ["ENGINES", "AuthenticationFailed", "ConnInfo", "DatabaseUnreachable", "Engine", "EngineFacts", "Session",
           "Statement", "facts"]


@dataclass(frozen=True)
class Statement:
    """One statement: the text shown in plans (never a password) and what is sent to the server."""

    display: str
    query: Any = None
    params: tuple[Any, ...] = ()


class Session(ABC):
    """An admin connection: it counts the queries it sends (the plan reports them), and owns the target's lock
    and the transaction of an apply."""

    queries: int = 0
    statements: int = 0

    @abstractmethod
    def query(self, sql: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def execute(self, statement: Statement) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def target_lock(self, target: str, timeout_seconds: int | None = None, shared: bool = False
                    ) -> AbstractContextManager[None]:
        """Hold the target's lock (session level) for the block: applies and rotations never interleave.
        `shared` (rotations): held by many at once, never with an apply, where the engine can share it."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """One transaction for the block where the engine has them for account statements."""


class AuthenticationFailed(Exception):
    """The credentials were refused (as opposed to the server being unreachable)."""


class DatabaseUnreachable(ProvisionerError):
    """No connection could be made (network, DNS, TLS, server down)."""


class Engine(ABC):
    name: str
    default_port: int
    family: str

    @abstractmethod
    def connect(self, info: ConnInfo, connect_timeout: int = 10) -> Session: ...

    @abstractmethod
    def inspect(self, session: Session, scope: DropScope = EVERY_ROLE) -> DatabaseState:
        """The current state, in a constant number of queries. What roles own is read only for those in `scope`
        (only a role that may be dropped needs it)."""

    def inspect_other(self, session: Session, cluster: DatabaseState) -> DatabaseState:
        """PostgreSQL: another database of the cluster `cluster` was read from (its objects; the same roles)."""
        raise ProvisionerError(f"{self.name} targets manage no further databases (`databases:` is PostgreSQL's)")

    @abstractmethod
    def server_identity(self, session: Session) -> str:
        """What tells one server (PostgreSQL cluster, MySQL/MariaDB instance) from another, whatever address and
        database it was reached by: two targets with the same identity share their roles."""

    @abstractmethod
    def statements(self, change: AnyChange, password: str | None = None, session: Session | None = None,
                   server_version: str | None = None) -> list[Statement]:
        """Statements for a database change. With password None, a placeholder is displayed instead. The dialect
        is the session's, else the one `server_version` names, else the engine's default (offline plans)."""

    def check_login(self, info: ConnInfo) -> None:
        """Log in and run a trivial query; AuthenticationFailed if refused."""
        session = self.connect(info)
        try:
            session.query("SELECT 1")
        finally:
            session.close()

    def check_settings(self, session: Session, settings: list[tuple[str, str]]) -> list[str]:
        """Problems the server finds in role settings about to be set, (parameter, value) each: an unknown
        parameter, an invalid value, one a role cannot carry. Asked before anything is written (SPEC 8)."""
        return []

    def host_parts(self, session: Session, user: str) -> list[str] | None:
        """The host parts a user name exists under (MySQL/MariaDB accounts are 'user'@'host'); None where
        accounts have no host part."""
        return None

    @abstractmethod
    def set_password(self, session: Session, user: str, host: str | None, password: str) -> None:
        """Set a user's password immediately (rotation), as the connected user. MySQL: host None = look it up."""

    @property
    @abstractmethod
    def traits(self) -> Traits:
        """What the diff must know about this engine's model of accounts and grants."""

    def traits_for(self, server_version: str | None) -> Traits:
        """The traits for a server of this version (MySQL and MariaDB differ in their role host part)."""
        return self.traits

    transactional: bool = True  # whether an apply runs as one transaction (MySQL commits DDL implicitly)
