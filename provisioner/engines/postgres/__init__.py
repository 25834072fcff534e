"""PostgreSQL: catalog inspection in a constant number of queries (`queries`, `inspector`), statements composed
with psycopg.sql (`compiler`, pure), and the admin session with its advisory lock, transaction and client-side
SCRAM verifiers (`session`)."""

from __future__ import annotations

from provisioner.core import changes as c
from provisioner.core.conventions import EVERY_ROLE, DropScope
from provisioner.core.engine_facts import traits
from provisioner.core.model import ConnInfo, DatabaseState, Traits
from provisioner.engines.base import Engine, Session, Statement
from provisioner.engines.postgres import compiler, inspector, queries
from provisioner.engines.postgres.session import PostgresSession, open_session

PASSWORD_CHANGES = (c.CreateRole, c.SetPassword, c.ResetPassword, c.FinishPendingPassword)


class PostgresEngine(Engine):
    name = "postgres"
    family = "postgres"
    default_port = 5432

    def connect(self, info: ConnInfo, connect_timeout: int = 10) -> PostgresSession:
        return open_session(info, connect_timeout)

    @property
    def traits(self) -> Traits:
        return traits(self.name)

    def traits_for(self, server_version: str | None) -> Traits:
        """ALL on tables includes MAINTAIN from PostgreSQL 17 on."""
        return traits(self.name, server_version)

    def inspect(self, session: Session, scope: DropScope = EVERY_ROLE) -> DatabaseState:
        return inspector.inspect(session, scope)

    def inspect_other(self, session: Session, cluster: DatabaseState) -> DatabaseState:
        return inspector.inspect_other(session, cluster)

    def server_identity(self, session: Session) -> str:
        return str(session.query(queries.Q_IDENTITY)[0][0])

    def statements(self, change: c.AnyChange, password: str | None = None, session: Session | None = None,
                   server_version: str | None = None) -> list[Statement]:
        verifier = None
        if password is not None and isinstance(change, PASSWORD_CHANGES):
            assert isinstance(session, PostgresSession), "a password needs the admin session for its verifier"
            verifier = session.verifier(change.name, password)
        return compiler.statements(change, verifier)

    def check_settings(self, session: Session, settings: list[tuple[str, str]]) -> list[str]:
        assert isinstance(session, PostgresSession)
        return session.check_settings(settings)

    def set_password(self, session: Session, user: str, host: str | None, password: str) -> None:
        assert isinstance(session, PostgresSession)
        session.execute(compiler.statements(
            c.SetPassword(action=c.CHANGE, target="", principal=user, name=user, secret="", reason="rotation"),
            session.verifier(user, password))[0])
