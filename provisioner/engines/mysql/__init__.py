"""MySQL 8.0/8.4 and MariaDB 10.6+: accounts 'user'@'host', inspection by reading the grant tables directly
(`queries`, `inspector`: a constant number of queries, no SHOW GRANTS parsing), statements compiled for the
dialect (`compiler`, pure, values bound), applies serialised by GET_LOCK (`session`).

Account statements commit implicitly in MySQL, so an apply is a sequence of individually consistent steps; the
executor reports exactly which ran. MariaDB keeps no comment on accounts: the ownership marker lives in a small
table, `provisioner_meta.accounts`, which survives reruns. MySQL 8 keeps it in the account's COMMENT attribute.
The engine object holds no state: the dialect belongs to the session (or, offline, follows the engine name).
"""

from __future__ import annotations

import secrets as random_source

from provisioner import redact
from provisioner.core import changes as c
from provisioner.core.conventions import EVERY_ROLE, DropScope
from provisioner.core.engine_facts import traits
from provisioner.core.model import ConnInfo, DatabaseState, Traits
from provisioner.engines.base import Engine, Session, Statement
from provisioner.engines.mysql import compiler, inspector, queries
from provisioner.engines.mysql.dialect import MARIADB, MYSQL8, Dialect, detect, for_engine, native_password_hash
from provisioner.engines.mysql.session import MySQLSession, open_session

__all__ = ["MARIADB", "MYSQL8", "Dialect", "MySQLEngine", "detect", "native_password_hash"]


def traits_of(dialect: Dialect) -> Traits:
    """The facts of the server the dialect is (a `mysql` target may reach a MariaDB server, and the reverse)."""
    return traits("mariadb" if dialect.mariadb else "mysql")


class MySQLEngine(Engine):
    default_port = 3306
    family = "mysql"
    transactional = False

    def __init__(self, name: str = "mysql") -> None:
        self.name = name

    @property
    def traits(self) -> Traits:
        return traits_of(for_engine(self.name))

    def traits_for(self, server_version: str | None) -> Traits:
        return traits_of(self._dialect(None, server_version))

    def _dialect(self, session: Session | None, server_version: str | None) -> Dialect:
        if isinstance(session, MySQLSession):
            return session.dialect
        if server_version:
            return detect(server_version)
        return for_engine(self.name)

    def connect(self, info: ConnInfo, connect_timeout: int = 10) -> MySQLSession:
        return open_session(info, connect_timeout)

    def inspect(self, session: Session, scope: DropScope = EVERY_ROLE) -> DatabaseState:
        assert isinstance(session, MySQLSession)
        return inspector.inspect(session, traits_of(session.dialect))

    def server_identity(self, session: Session) -> str:
        assert isinstance(session, MySQLSession)
        query = queries.Q_MARIADB_IDENTITY if session.dialect.mariadb else queries.Q_MYSQL_IDENTITY
        return str(session.query(query)[0][0])

    def statements(self, change: c.AnyChange, password: str | None = None, session: Session | None = None,
                   server_version: str | None = None) -> list[Statement]:
        throwaway = None
        if session is not None and isinstance(change, c.CreateRole) and change.login and not change.secret:
            throwaway = random_source.token_urlsafe(32)
            redact.register(throwaway)
        if password is not None:
            redact.register(password)
            redact.register(native_password_hash(password))
        return compiler.statements(change, self._dialect(session, server_version), password, throwaway)

    def host_parts(self, session: Session, user: str) -> list[str] | None:
        assert isinstance(session, MySQLSession)
        return session.host_parts(user)

    def set_password(self, session: Session, user: str, host: str | None, password: str) -> None:
        assert isinstance(session, MySQLSession)
        redact.register(password)
        dialect = session.dialect
        if user == session.user:
            # Any account may change its own password; MariaDB's SET PASSWORD takes the hash form.
            if dialect.mariadb:
                text, params = "SET PASSWORD = %s", (native_password_hash(password),)
            else:
                text, params = "ALTER USER CURRENT_USER() IDENTIFIED BY %s", (password,)
            shown = compiler.inline(text, params).replace(compiler.inline("%s", params), compiler.PASSWORD_PLACEHOLDER)
            session.run(text, params, shown)
            return
        change = c.SetPassword(action=c.CHANGE, target="", principal=user, name=user, secret="", reason="rotation",
                               host=host if host is not None else session.host_of(user))
        session.execute(compiler.statements(change, dialect, password)[0])
