"""`make demo` stops every server it started on every exit path: a missing moto (said at once, not after a
minute of waiting) and Ctrl-C during start-up leave no PostgreSQL or MariaDB running and no data directory."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = ("provisioner-pg-*", "provisioner-mariadb-*")


@pytest.fixture
def scratch():
    """A temporary directory of the demo's own (TMPDIR), so that only its servers are looked for: other test
    runs on the machine keep theirs elsewhere. Traversable by the user PostgreSQL runs as."""
    path = Path(tempfile.mkdtemp(prefix="demo-cleanup-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def leftovers(scratch: Path) -> set[str]:
    found = {p for pattern in PATTERNS for p in glob.glob(str(scratch / pattern))}
    running = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return found | {line for line in running.splitlines() if str(scratch) in line}


def demo(env: dict[str, str], scratch: Path) -> subprocess.Popen[str]:
    # SIGINT reaches the demo as at a shell whatever the suite was started as: a background job (`make test &`)
    # inherits SIGINT ignored, and Python then never installs the handler that turns it into KeyboardInterrupt.
    return subprocess.Popen([sys.executable, "-m", "devtools.demo"], cwd=ROOT, env={**env, "TMPDIR": str(scratch)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_missing_moto_is_said_at_once_and_nothing_is_left_running(tmp_path, scratch):
    fake = tmp_path / "site"
    (fake / "moto").mkdir(parents=True)
    (fake / "moto" / "__init__.py").write_text("")  # a moto without its server
    (fake / "flask").mkdir()
    (fake / "flask" / "__init__.py").write_text("")
    start = time.monotonic()
    process = demo({**os.environ, "PYTHONPATH": f"{fake}{os.pathsep}{ROOT}"}, scratch)
    output, _ = process.communicate(timeout=180)
    assert process.returncode != 0 and "moto server exited" in output
    assert time.monotonic() - start < 45, "the demo waited instead of saying what is missing"
    assert leftovers(scratch) == set()


@pytest.mark.parametrize("delay", [0.5, 1.5, 3.0])  # PostgreSQL's initdb or start, MariaDB's, moto's
def test_ctrl_c_during_start_up_leaves_nothing_running(scratch, delay):
    process = demo({**os.environ, "PYTHONPATH": str(ROOT)}, scratch)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    assert process.returncode != 0
    assert leftovers(scratch) == set()
