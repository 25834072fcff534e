"""Timing one command of the benchmark: wall time, peak RSS of the process, its output; stopped at a limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Linux keeps a process's peak RSS across exec, and a child forked from the benchmark starts with the
# benchmark's own (its statement logs and results run to hundreds of MB): wait4 on a direct child reports
# that, not the command's. A small launcher forks and execs the command and reports its child's peak, and
# the wall time from the fork to the end (its own start-up is not the command's).
LAUNCHER = """
import os, sys, time
start = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {time.monotonic() - start}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


class Stopped(Exception):
    """The run exceeded its time limit and was stopped."""


def timed(command: list[str], env: dict[str, str], cwd: Path, limit: float | None = None
          ) -> tuple[float, float, str]:
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as peak:
        start = time.monotonic()
        process = subprocess.Popen([sys.executable, "-c", LAUNCHER, peak.name, *command], env=env, cwd=cwd,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        timer = threading.Timer(limit, lambda: os.killpg(process.pid, signal.SIGKILL)) if limit else None
        if timer:
            timer.start()
        output = process.stdout.read() if process.stdout else ""
        _, status, _ = os.wait4(process.pid, 0)
        elapsed = time.monotonic() - start
        measured = peak.read().split()
    peak_kb, elapsed = (float(measured[0]), float(measured[1])) if measured else (0.0, elapsed)
    if timer:
        timer.cancel()
        if limit and not measured:
            raise Stopped(f"stopped after {limit:.0f} s")
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        raise RuntimeError(f"{' '.join(command[:3])} exited {code}: {output[-600:]}")
    return elapsed, peak_kb / 1024, output
