"""Every command, driven with no region, no credentials and a dead Secrets Manager endpoint, answers with a clear
message and the hint that fixes it (never an internal error or a traceback); retries are announced on a terminal
and nothing extra is printed when standard error is not one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.terminal import run_on_terminal

MANIFEST = """\
version: 1
targets:
  films: {engine: postgres, host: 127.0.0.1, port: 1, database: filmdb, admin: {secret: "rds!cluster-x"}}
accounts:
  - {name: reader_user, target: films, grants: [{privileges: [SELECT], tables: [public.films]}]}
"""
COMMANDS = [["plan"], ["apply", "--yes"], ["rotate", "reader_user"], ["doctor"], ["import", "--target", "films"]]


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


SETUPS = {
    "no region": ({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}, "set AWS_REGION (or AWS_DEFAULT_REGION)"),
    "no credentials": ({"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"},
                       "no AWS credentials were found"),
    "dead endpoint": ({"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
                      "the Secrets Manager endpoint did not answer"),
}


def environment(setup: str, home: Path) -> dict[str, str]:
    extra, _ = SETUPS[setup]
    env = {"PATH": os.environ["PATH"], "HOME": str(home), **extra}
    if setup == "dead endpoint":
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{dead_port()}"
    return env


@pytest.mark.parametrize("setup", sorted(SETUPS))
@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_explains_aws_problems(tmp_path, setup, command):
    (tmp_path / "accounts.yaml").write_text(MANIFEST)
    done = subprocess.run([sys.executable, "-m", "provisioner", *command], cwd=tmp_path, capture_output=True,
                          text=True, env=environment(setup, tmp_path), timeout=120)
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert SETUPS[setup][1] in done.stderr, text
    assert "internal error" not in text and "Traceback" not in text
    assert "run rotate again to resume" not in text  # nothing was started: nothing to resume
    assert "\x1b[" not in text  # no ANSI codes when not on a terminal


def test_retries_are_announced_on_a_terminal_only(tmp_path):
    (tmp_path / "accounts.yaml").write_text(MANIFEST)
    env = environment("dead endpoint", tmp_path)
    on_terminal = run_on_terminal(["plan"], tmp_path, env)
    assert "... Secrets Manager ListSecrets: attempt 1 failed" in on_terminal and "retrying" in on_terminal
    assert "... reading the managed secrets (1 target(s))" in on_terminal
    piped = subprocess.run([sys.executable, "-m", "provisioner", "plan"], cwd=tmp_path, capture_output=True,
                           text=True, env=env, timeout=120)
    assert "retrying" not in piped.stderr and "..." not in piped.stderr
    assert piped.stderr.startswith("error: Secrets Manager list_secrets failed")
