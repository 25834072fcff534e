"""Timing one command of the benchmark: wall time, peak RSS of the process, its output; stopped at a limit."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path


class Stopped(Exception):
    """The run exceeded its time limit and was stopped."""


def timed(command: list[str], env: dict[str, str], cwd: Path, limit: float | None = None
          ) -> tuple[float, float, str]:
    start = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    timer = threading.Timer(limit, process.kill) if limit else None
    if timer:
        timer.start()
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - start
    if timer:
        timer.cancel()
        if limit and elapsed >= limit:
            raise Stopped(f"stopped after {limit:.0f} s")
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        raise RuntimeError(f"{' '.join(command[:3])} exited {code}: {output[-600:]}")
    return elapsed, usage.ru_maxrss / 1024, output
