"""Fault injection for crash tests: `PROVISIONER_FAULT=NAME[:N]` kills the process (SIGKILL) the N-th time
(default 1st) the code reaches checkpoint NAME; in-process tests may register a callable for a checkpoint in
`HOOKS` instead (e.g. to cut the network). Does nothing when neither is set.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable

_seen: Counter[str] = Counter()
HOOKS: dict[str, Callable[[], None]] = {}


def checkpoint(name: str) -> None:
    hook = HOOKS.get(name)
    if hook:
        hook()
    spec = os.environ.get("PROVISIONER_FAULT")
    if not spec:
        return
    wanted, _, count = spec.partition(":")
    if wanted != name:
        return
    _seen[name] += 1
    if _seen[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
