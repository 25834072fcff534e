"""Running the command line with standard error on a pseudo-terminal, as a user at a shell sees it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from support.recorders import OUTPUTS


def run_on_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """The command with standard error on a pseudo-terminal (standard output piped), as a user at a shell."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "provisioner", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=follower, text=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data.decode(errors="replace"))
    process.wait(timeout=120)
    os.close(leader)
    shown = "".join(chunks) + (process.stdout.read() if process.stdout else "")
    OUTPUTS.append(shown)  # searched for passwords at the end of the suite, like every other output
    return shown
