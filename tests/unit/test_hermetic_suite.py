"""The suite runs alike from a terminal, from CI and as a background job: what a shell may export that would steer
the tool elsewhere is removed before any test (tests/support/hermetic.py), and a subprocess the suite starts sees
the same."""

from __future__ import annotations

import os
import subprocess
import sys

from support.hermetic import LOOPBACK, NOWHERE, hermetic


def test_what_would_steer_the_tool_elsewhere_is_removed():
    environ = {"PROVISIONER_DEBUG": "1", "PROVISIONER_FAULT": "before-commit", "AWS_PROFILE": "prod",
               "AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://secretsmanager.example.com",
               "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true", "HTTPS_PROXY": "http://10.0.0.1:3128",
               "NO_PROXY": "internal.example.com", "PATH": "/usr/bin"}
    removed = hermetic(environ)
    assert {"PROVISIONER_DEBUG", "PROVISIONER_FAULT", "AWS_PROFILE", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} <= set(removed)
    assert environ["AWS_CONFIG_FILE"] == environ["AWS_SHARED_CREDENTIALS_FILE"] == NOWHERE
    assert environ["NO_PROXY"].split(",")[:4] == LOOPBACK.split(",")[:4]
    assert "internal.example.com" in environ["NO_PROXY"] and environ["PATH"] == "/usr/bin"


def test_this_session_is_hermetic_and_so_are_the_processes_it_starts():
    assert "PROVISIONER_DEBUG" not in os.environ and os.environ["AWS_CONFIG_FILE"] == NOWHERE
    assert not any(name.startswith("AWS_ENDPOINT_URL_") for name in os.environ)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.environ['NO_PROXY'])"], capture_output=True,
                           text=True, check=True)
    assert "127.0.0.1" in child.stdout
