"""Fault injection for crash tests: `PROVISIONER_FAULT=NAME[:N]` kills the process (SIGKILL) the N-th time
(default 1st) the code reaches checkpoint NAME. Does nothing when the variable is unset.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_seen: Counter[str] = Counter()


def checkpoint(name: str) -> None:
    spec = os.environ.get("PROVISIONER_FAULT")
    if not spec:
        return
    wanted, _, count = spec.partition(":")
    if wanted != name:
        return
    _seen[name] += 1
    if _seen[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
