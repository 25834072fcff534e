"""Engine adapters for the tests: how to run SQL as the admin, log in as an account, ask whether a role exists,
and wipe what a test left, per engine. `Env` holds one, so tests never branch on the engine for these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import pymysql

from devtools import sandbox

SYSTEM_USERS = ("root", "mariadb.sys", sandbox.ADMIN_USER)


class EngineAdapter(Protocol):
    name: str
    login_errors: tuple[type[Exception], ...]

    def sql(self, server: sandbox.Server, database: str, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        ...

    def connect_as(self, server: sandbox.Server, database: str, user: str, password: str, with_database: bool
                   ) -> Any:
        """A login as `user`; `with_database` False: whether the password logs in, apart from database access."""

    def role_exists(self, server: sandbox.Server, database: str, name: str) -> bool: ...

    def create_database(self, server: sandbox.Server, database: str) -> None: ...

    def reset(self, server: sandbox.Server, database: str) -> None: ...


@dataclass(frozen=True)
class PostgresAdapter:
    name: str = "postgres"
    login_errors: tuple[type[Exception], ...] = (psycopg.OperationalError,)

    def sql(self, server: sandbox.Server, database: str, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with psycopg.connect(server.url(database), autocommit=True) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []

    def connect_as(self, server: sandbox.Server, database: str, user: str, password: str, with_database: bool
                   ) -> Any:
        # PostgreSQL always connects to a database: the test's own.
        return psycopg.connect(host=server.host, port=server.port, user=user, password=password,
                               dbname=database, autocommit=True, connect_timeout=5)

    def role_exists(self, server: sandbox.Server, database: str, name: str) -> bool:
        return bool(self.sql(server, database, "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)))

    def create_database(self, server: sandbox.Server, database: str) -> None:
        sandbox.psql_as_admin(server, f'CREATE DATABASE "{database}"')

    def reset(self, server: sandbox.Server, database: str) -> None:
        """Drop the test's database and every role but the admin, so tests never see each other's roles."""
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            roles = [r[0] for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> current_user").fetchall()]
            if roles:
                # PostgreSQL 16+ records who granted a membership: drop what the roles granted or own first.
                names = psycopg.sql.SQL(", ").join(psycopg.sql.Identifier(r) for r in roles)
                conn.execute(psycopg.sql.SQL("DROP OWNED BY {}").format(names))
            for role in roles:
                conn.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(role)))


@dataclass(frozen=True)
class MariaDBAdapter:
    name: str = "mariadb"
    login_errors: tuple[type[Exception], ...] = (pymysql.err.OperationalError,)

    def sql(self, server: sandbox.Server, database: str, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        # The admin's SQL on loopback needs no TLS (and pymysql spends ~20 ms building a TLS context otherwise).
        with pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                             database=database, autocommit=True, ssl_disabled=True) as conn:
            rows: list[tuple[Any, ...]] = []
            with conn.cursor() as cur:
                for statement in [s for s in query.split(";\n") if s.strip()]:
                    cur.execute(statement.strip().rstrip(";"), params or None)
                    rows = list(cur.fetchall()) if cur.description else []
            return rows

    def connect_as(self, server: sandbox.Server, database: str, user: str, password: str, with_database: bool
                   ) -> Any:
        return pymysql.connect(host=server.host, port=server.port, user=user, password=password,
                               database=database if with_database else None, autocommit=True, connect_timeout=5)

    def role_exists(self, server: sandbox.Server, database: str, name: str) -> bool:
        return bool(self.sql(server, database, "SELECT 1 FROM mysql.user WHERE User = %s COLLATE utf8mb4_bin",
                             (name,)))

    def create_database(self, server: sandbox.Server, database: str) -> None:
        sandbox.mysql_as_admin(server, f"CREATE DATABASE `{database}`")

    def reset(self, server: sandbox.Server, database: str) -> None:
        with pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                             autocommit=True, ssl_disabled=True) as conn, conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            for (name,) in cur.fetchall():
                if name.startswith(("billing_", "app_", "extra_")):
                    cur.execute(f"DROP DATABASE `{name}`")
            cur.execute("SELECT User, Host, is_role FROM mysql.user")
            for user, host, is_role in cur.fetchall():
                if user in SYSTEM_USERS:
                    continue
                if is_role == "Y":
                    cur.execute(f"DROP ROLE `{user}`")
                else:
                    cur.execute("DROP USER %s@%s", (user, host))
            cur.execute("DROP DATABASE IF EXISTS provisioner_meta")


ADAPTERS: dict[str, EngineAdapter] = {"postgres": PostgresAdapter(), "mariadb": MariaDBAdapter()}
