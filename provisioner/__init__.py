"""provisioner: database accounts as code.

Applications use `provisioner.connect(secret_id)` (see `provisioner.client`) to open a connection that
survives password rotation.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"


def connect(secret_id: str, **kwargs: Any) -> Any:
    """Open a database connection with the credentials of a Secrets Manager secret (rotation-safe).

    The package root imports nothing of the project: every module of every wing is inside it, so a static import
    here would put the application helper (and boto3) under the engines and the core in the import graph. The
    helper is loaded when an application calls this, and only then.
    """
    client = importlib.import_module("provisioner.client")
    return client.connect(secret_id, **kwargs)
