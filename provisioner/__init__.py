"""provisioner: database accounts as code.

Applications use `provisioner.connect(secret_id)` (see `provisioner.client`) to open a connection that
survives password rotation.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def connect(secret_id: str, **kwargs: Any) -> Any:
    """Open a database connection with the credentials of a Secrets Manager secret (rotation-safe)."""
    from provisioner.client import connect as _connect

    return _connect(secret_id, **kwargs)
