"""What the suite records across tests: every CLI output (searched at the end for every password the suite
generated), the passwords themselves, server logs, and the outcome of every injected crash."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from support.env import Env

OUTPUTS: list[str] = []  # everything the CLI printed or logged, across the suite
STARTED: list[str] = []  # servers this session started (the leak check needs Secrets Manager)
LEAK_REPORT: dict[str, int] = {}
ENDPOINT: list[str] = []  # moto's own URL (tests may point AWS_ENDPOINT_URL at a proxy in front of it)
ADMIN_PASSWORDS: set[str] = set()
PASSWORDS: set[str] = set()  # every password stored in any secret version during the suite
SERVER_LOGS: list[Path] = []
FAULTS = {"injected": 0, "lost": 0, "pending_only": 0}


def sm_client() -> Any:
    return boto3.client("secretsmanager", endpoint_url=ENDPOINT[0] if ENDPOINT else None)


_READ: set[tuple[str, str]] = set()  # (secret ARN, version id) already read: a version's value never changes


def collect_passwords() -> None:
    """Read every version of every secret (moto keeps them all) while the endpoint is up; once each (a test's
    teardown reads the versions written since the last one, not the whole suite's again)."""
    client = sm_client()
    for page in client.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True):
        for secret in page["SecretList"]:
            for version in secret.get("SecretVersionsToStages") or {}:
                if (secret["ARN"], version) in _READ:
                    continue
                _READ.add((secret["ARN"], version))
                with contextlib.suppress(Exception):
                    value = client.get_secret_value(SecretId=secret["ARN"], VersionId=version)
                    password = json.loads(value.get("SecretString") or "{}").get("password")
                    if isinstance(password, str) and password:  # tests also store broken values
                        PASSWORDS.add(password)


def leaks() -> tuple[list[str], list[str]]:
    """Passwords found in any CLI output, and in any database server's statement log."""
    passwords = PASSWORDS | ADMIN_PASSWORDS
    logs = [p.read_text(errors="replace") for p in SERVER_LOGS if p.exists()]
    in_outputs = [pw for pw in passwords if any(pw in text for text in OUTPUTS)]
    in_logs = [pw for pw in passwords if any(pw in text for text in logs)]
    LEAK_REPORT.update(outputs=len(OUTPUTS), passwords=len(passwords), leaks=len(in_outputs),
                       server_log_leaks=len(in_logs))
    return in_outputs, in_logs


def record_fault(env: Env, accounts: list[str]) -> None:
    """After a killed process: every account with a secret must log in with AWSCURRENT, or — in the instant of a
    single-user password change — with AWSPENDING; a login account without a secret counts as lost too."""
    FAULTS["injected"] += 1
    client = sm_client()
    for account in accounts:
        try:
            client.describe_secret(SecretId=f"{env.target}/{account}")
        except client.exceptions.ResourceNotFoundException:
            if env.role_exists(account):
                FAULTS["lost"] += 1
            continue
        if not env.role_exists(account):
            continue  # the secret was written first; the account does not exist yet
        if env.logs_in(account):
            continue
        if env.has_stage(account, "AWSPENDING") and env.logs_in(account, "AWSPENDING"):
            FAULTS["pending_only"] += 1
            continue
        FAULTS["lost"] += 1

# The differential test's figures, per engine and version: cases, cells compared, drift statements, seconds.
DIFFERENTIAL: Counter[str] = Counter()
