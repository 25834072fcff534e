"""Inspect: the current state of one target, from its database catalogs and Secrets Manager.

The engine answers with a constant number of bulk catalog queries; the managed secrets come from one
ListSecrets pass plus BatchGetSecretValue (20 a call) shared by every target of the run.
"""

from __future__ import annotations

from .engines import ConnInfo, Engine, Session
from .model import CurrentState
from .secrets_manager import SecretStore


def inspect_target(engine: Engine, session: Session, conninfo: ConnInfo, store: SecretStore,
                   refresh_secrets: bool = False, masterarn: str | None = None) -> CurrentState:
    database = engine.inspect(session)
    connection: dict[str, object] = {"host": conninfo.host, "port": conninfo.port, "dbname": conninfo.dbname}
    if masterarn:
        connection["masterarn"] = masterarn
    return CurrentState(database=database, secrets=dict(store.managed(refresh=refresh_secrets)),
                        connection=connection)
