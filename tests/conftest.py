"""Test harness: a throwaway PostgreSQL (scram-sha-256 enforced on TCP) and moto's Secrets Manager server,
started once per session; a fresh database and target name per test; every CLI output collected and, at the
end of the session, searched for every password the suite generated (none may appear).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pymysql
import pytest

from devtools import sandbox
from provisioner import cli

ROOT = Path(__file__).resolve().parent.parent
OUTPUTS: list[str] = []  # everything the CLI printed or logged, across the suite
STARTED: list[str] = []  # servers this session started (the leak check needs Secrets Manager)
LEAK_REPORT: dict[str, int] = {}


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture(scope="session")
def pg_server():
    server = sandbox.start_postgres(settings={"log_statement": "all"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def aws():
    endpoint = sandbox.start_secrets_manager()
    STARTED.append("aws")
    ENDPOINT.append(endpoint.url)
    saved = {k: os.environ.get(k) for k in endpoint.environment()}
    os.environ.update(endpoint.environment())
    os.environ.pop("AWS_PROFILE", None)
    yield endpoint
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    endpoint.stop()


ENDPOINT: list[str] = []  # moto's own URL (tests may point AWS_ENDPOINT_URL at a proxy in front of it)


def sm_client() -> Any:
    return boto3.client("secretsmanager", endpoint_url=ENDPOINT[0] if ENDPOINT else None)


@pytest.fixture(scope="session", autouse=True)
def leak_guard(request):
    """After the whole suite: no generated or admin password in any output, nor in PostgreSQL's log."""
    yield
    if not STARTED:
        return
    passwords = set(PASSWORDS)
    passwords |= ADMIN_PASSWORDS
    logs = [p.read_text(errors="replace") for p in SERVER_LOGS if p.exists()]
    leaks = [pw for pw in passwords if any(pw in text for text in OUTPUTS)]
    log_leaks = [pw for pw in passwords if any(pw in text for text in logs)]
    LEAK_REPORT.update(outputs=len(OUTPUTS), passwords=len(passwords), leaks=len(leaks),
                       server_log_leaks=len(log_leaks))
    assert not leaks, f"{len(leaks)} password(s) appeared in CLI output"
    assert not log_leaks, f"{len(log_leaks)} password(s) appeared in a database server's statement log"


ADMIN_PASSWORDS: set[str] = set()
PASSWORDS: set[str] = set()  # every password stored in any secret version during the suite


def collect_passwords() -> None:
    """Read every version of every secret (moto keeps them all) while the endpoint is up."""
    client = sm_client()
    for page in client.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True):
        for secret in page["SecretList"]:
            for version in secret.get("SecretVersionsToStages") or {}:
                with contextlib.suppress(Exception):
                    value = client.get_secret_value(SecretId=secret["ARN"], VersionId=version)
                    password = json.loads(value.get("SecretString") or "{}").get("password")
                    if password:
                        PASSWORDS.add(password)
SERVER_LOGS: list[Path] = []


FAULTS = {"injected": 0, "lost": 0, "pending_only": 0}


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


def pytest_terminal_summary(terminalreporter):
    if FAULTS["injected"]:
        terminalreporter.write_line(
            "crash-safety: {injected} faults injected (process killed with SIGKILL), {lost} credentials lost, "
            "{pending_only} moments where only AWSPENDING logged in (single-user change between setting the "
            "password and promoting it; recovered by the rerun)".format(**FAULTS))
    if LEAK_REPORT:
        terminalreporter.write_line(
            "secret-leak check: {outputs} outputs scanned for {passwords} passwords: {leaks} leaked in output, "
            "{server_log_leaks} in the PostgreSQL and MariaDB statement logs".format(**LEAK_REPORT))


@dataclass
class Env:
    """One test's world: its own database on the session server, its own target name, a temp directory."""

    server: sandbox.Server
    database: str
    target: str
    tmp: Path
    monkeypatch: Any
    url_env: str = ""
    manifests: list[Path] = field(default_factory=list)
    engine: str = "postgres"

    def __repr__(self) -> str:  # pytest and hypothesis print fixtures: never the admin password
        return f"Env({self.engine} target={self.target} database={self.database})"

    def __post_init__(self) -> None:
        self.url_env = f"ADMIN_URL_{self.target.upper()}"
        self.monkeypatch.setenv(self.url_env, self.server.url(self.database))

    # ---- manifests

    def admin_secret(self) -> str:
        """An RDS-style admin secret (username and password only) for this test's target."""
        name = f"rds!cluster-{self.target}"
        with contextlib.suppress(sm_client().exceptions.ResourceExistsException):
            sm_client().create_secret(Name=name, SecretString=json.dumps(
                {"username": self.server.user, "password": self.server.password}))
        return name

    def manifest(self, body: str, name: str = "accounts.yaml", header: bool = True, admin_secret: bool = False,
                 host: str | None = None, port: int | None = None) -> Path:
        text = textwrap.dedent(body).strip("\n") + "\n"
        if header:
            admin = f'{{secret: "{self.admin_secret()}"}}' if admin_secret else f"{{url_env: {self.url_env}}}"
            text = textwrap.dedent(f"""\
                version: 1
                targets:
                  {self.target}:
                    engine: {self.engine}
                    host: {host or self.server.host}
                    port: {port or self.server.port}
                    database: {self.database}
                    admin: {admin}
                """) + text
        path = self.tmp / name
        path.write_text(text)
        return path

    # ---- the command line

    def cli(self, *args: str, expect: int | None = 0) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([str(a) for a in args])
        result = Result(code, out.getvalue(), err.getvalue())
        OUTPUTS.append(result.text)
        if expect is not None:
            assert code == expect, f"exit {code} != {expect}\n{result.text}"
        return result

    def cli_process(self, *args: str, env: dict[str, str] | None = None, expect: int | None = 0) -> Result:
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "provisioner", *map(str, args)], capture_output=True,
                              text=True, env=full_env, cwd=self.tmp, timeout=300)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        OUTPUTS.append(result.text)
        if expect is not None:
            assert proc.returncode == expect, f"exit {proc.returncode} != {expect}\n{result.text}"
        return result

    def plan_json(self, *extra: str) -> dict[str, Any]:
        return json.loads(self.cli("plan", "-f", self.tmp / "accounts.yaml", "--format", "json", *extra).out)

    def apply(self, *extra: str) -> Result:
        return self.cli("apply", "--yes", "-f", self.tmp / "accounts.yaml", *extra)

    def assert_converged(self) -> None:
        result = self.cli("plan", "-f", self.tmp / "accounts.yaml", "--detailed-exitcode", expect=None)
        assert result.code == 0, f"plan is not empty:\n{result.text}"

    # ---- the database

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.engine != "postgres":
            with pymysql.connect(host=self.server.host, port=self.server.port, user=self.server.user,
                                 password=self.server.password, database=self.database, autocommit=True) as conn:
                rows: list[tuple[Any, ...]] = []
                with conn.cursor() as cur:
                    for statement in [s for s in query.split(";\n") if s.strip()]:
                        cur.execute(statement.strip().rstrip(";"), params or None)
                        rows = list(cur.fetchall()) if cur.description else []
                return rows
        with psycopg.connect(self.server.url(self.database), autocommit=True) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []

    def connect_as(self, user: str, password: str, database: bool = True) -> Any:
        if self.engine != "postgres":
            return pymysql.connect(host=self.server.host, port=self.server.port, user=user, password=password,
                                   database=self.database if database else None, autocommit=True,
                                   connect_timeout=5)
        return psycopg.connect(host=self.server.host, port=self.server.port, user=user, password=password,
                               dbname=self.database, autocommit=True, connect_timeout=5)

    # ---- secrets

    def secret(self, account: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
        value = sm_client().get_secret_value(SecretId=f"{self.target}/{account}", VersionStage=stage)
        return json.loads(value["SecretString"])

    def describe(self, account: str) -> dict[str, Any]:
        return sm_client().describe_secret(SecretId=f"{self.target}/{account}")

    def role_exists(self, name: str) -> bool:
        if self.engine == "postgres":
            return bool(self.sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)))
        return bool(self.sql("SELECT 1 FROM mysql.user WHERE User = %s COLLATE utf8mb4_bin", (name,)))

    def has_stage(self, account: str, stage: str) -> bool:
        stages = self.describe(account).get("VersionIdsToStages", {})
        return any(stage in s for s in stages.values())

    def logs_in(self, account: str, stage: str = "AWSCURRENT") -> bool:
        value = self.secret(account, stage)
        try:
            # MySQL: whether the password logs in, apart from access to the database.
            conn = self.connect_as(value["username"], value["password"], database=self.engine == "postgres")
        except (psycopg.OperationalError, pymysql.err.OperationalError):
            return False
        conn.close()
        return True


@pytest.fixture(scope="session")
def rotation_lambda(aws) -> str:
    return sandbox.register_rotation_function()


@pytest.fixture
def env(pg_server, aws, tmp_path, monkeypatch):
    ADMIN_PASSWORDS.add(pg_server.password)
    if pg_server.log_file and pg_server.log_file not in SERVER_LOGS:
        SERVER_LOGS.append(pg_server.log_file)
    suffix = uuid.uuid4().hex[:8]
    database = f"db_{suffix}"
    sandbox.psql_as_admin(pg_server, f'CREATE DATABASE "{database}"')
    monkeypatch.chdir(tmp_path)
    yield Env(pg_server, database, f"t{suffix}", tmp_path, monkeypatch)
    collect_passwords()
    reset_server(pg_server, database)


@pytest.fixture(scope="session")
def maria_server():
    server = sandbox.start_mariadb(general_log=True)  # every statement logged: searched for passwords at the end
    yield server
    server.stop()


SYSTEM_USERS = ("root", "mariadb.sys", sandbox.ADMIN_USER)


@pytest.fixture
def menv(maria_server, aws, tmp_path, monkeypatch):
    """Like `env`, on the session's MariaDB: a database `billing_<id>` and a target of its own."""
    ADMIN_PASSWORDS.add(maria_server.password)
    if maria_server.log_file and maria_server.log_file not in SERVER_LOGS:
        SERVER_LOGS.append(maria_server.log_file)
    suffix = uuid.uuid4().hex[:8]
    database = f"billing_{suffix}"
    sandbox.mysql_as_admin(maria_server, f"CREATE DATABASE `{database}`")
    monkeypatch.chdir(tmp_path)
    yield Env(maria_server, database, f"m{suffix}", tmp_path, monkeypatch, engine="mariadb")
    collect_passwords()
    with pymysql.connect(host=maria_server.host, port=maria_server.port, user=maria_server.user,
                         password=maria_server.password, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES")
        for (name,) in cur.fetchall():
            if name.startswith(("billing_", "app_", "extra_")):
                cur.execute(f"DROP DATABASE `{name}`")
        cur.execute("SELECT User, Host, is_role FROM mysql.user")
        for user, host, is_role in cur.fetchall():
            if user in SYSTEM_USERS:
                continue
            if is_role == "Y":
                cur.execute(f"DROP ROLE `{user}`")
            else:
                cur.execute("DROP USER %s@%s", (user, host))
        cur.execute("DROP DATABASE IF EXISTS provisioner_meta")


def reset_server(server: sandbox.Server, database: str) -> None:
    """Drop the test's database and every role but the admin, so tests never see each other's roles."""
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        roles = [r[0] for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> current_user").fetchall()]
        for role in roles:
            conn.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(role)))
