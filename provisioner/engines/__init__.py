"""Database engines behind one interface (see `base`): PostgreSQL, and MySQL/MariaDB beside it."""

from __future__ import annotations

from provisioner.engines.base import AuthenticationFailed, ConnInfo, DatabaseUnreachable, Engine, Session, Statement

__all__ = ["AuthenticationFailed", "ConnInfo", "DatabaseUnreachable", "Engine", "Session", "Statement", "get_engine"]


def get_engine(name: str) -> Engine:
    if name == "postgres":
        from provisioner.engines.postgres import PostgresEngine

        return PostgresEngine()
    if name in ("mysql", "mariadb"):
        from provisioner.engines.mysql import MySQLEngine

        return MySQLEngine(name)
    raise ValueError(f"engine {name!r} is not supported yet")
