"""Connection pools that survive password rotation, for the pools applications use: a SQLAlchemy engine whose
connections take their credentials from the cached secret (a `do_connect` event), and a psycopg_pool connection
class doing the same. Open connections are never affected by a rotation; a new one whose cached password is
refused re-reads AWSCURRENT, then AWSPENDING (`client.with_credentials`). SQLAlchemy and psycopg_pool are optional
extras (`pip install 'dbaccounts-provisioner[sqlalchemy]'` or `[pool]`).
"""

from __future__ import annotations

from typing import Any

from provisioner.client import _value, driver_parameters, with_credentials
from provisioner.core.engine_facts import DEFAULT_ENGINE, engine_from_secret, facts


def sqlalchemy_engine(secret_id: str, *, ttl: float = 300.0, attempts: int = 3, **engine_kwargs: Any) -> Any:
    """A SQLAlchemy engine for the account in `secret_id`. Its URL holds no credentials: every new pooled
    connection takes them from the secret at connect time."""
    from sqlalchemy import create_engine, event

    engine_name = engine_from_secret(_value(secret_id, ttl).get("engine")) or DEFAULT_ENGINE
    engine = create_engine(f"{facts(engine_name).sqlalchemy_driver}://", **engine_kwargs)

    @event.listens_for(engine, "do_connect")
    def connect_with_secret(dialect: Any, connection_record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        return with_credentials(secret_id, lambda value: dialect.dbapi.connect(
            *cargs, **{**cparams, **driver_parameters(value)}), ttl=ttl, attempts=attempts)

    return engine


def psycopg_connection_class(secret_id: str, *, ttl: float = 300.0, attempts: int = 3) -> Any:
    """A psycopg Connection class for `psycopg_pool.ConnectionPool(connection_class=...)`: each connection the
    pool opens takes its credentials from `secret_id` (the pool's conninfo/kwargs add options, not credentials)."""
    import psycopg

    class SecretConnection(psycopg.Connection):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
            opened = super().connect
            return with_credentials(secret_id, lambda value: opened(conninfo, **{**kwargs, **driver_parameters(value)}),
                                    ttl=ttl, attempts=attempts)

    SecretConnection.__name__ = SecretConnection.__qualname__ = f"SecretConnection[{secret_id}]"
    return SecretConnection
