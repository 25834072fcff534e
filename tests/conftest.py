"""Test harness: a throwaway PostgreSQL (scram-sha-256 enforced on TCP), MariaDB and moto's Secrets Manager
server, started once per session and only when a test needs them; a fresh database and target name per test;
every CLI output collected and, at the end of the session, searched for every password the suite generated
(none may appear). The shared pieces live in `tests/support`.
"""

from __future__ import annotations

import os
import uuid

import pytest
from support.engines import ADAPTERS
from support.env import Env, Result
from support.hermetic import hermetic
from support.recorders import (
    ADMIN_PASSWORDS,
    DIFFERENTIAL,
    ENDPOINT,
    FAULTS,
    LEAK_REPORT,
    SERVER_LOGS,
    STARTED,
    collect_passwords,
    leaks,
)

from devtools import sandbox

__all__ = ["Env", "Result"]

hermetic(os.environ)  # before any test, fixture or import of the tool reads the environment (support/hermetic.py)


@pytest.fixture(scope="session")
def pg_server():
    server = sandbox.start_postgres(settings={"log_statement": "all"})
    SERVER_VERSIONS["PostgreSQL"] = _version(server, "SHOW server_version")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_tablespace(pg_server) -> str:
    """A tablespace of the session's server (cluster-wide, so one for the session), made in place: the server
    keeps its directory under pg_tblspc, so this works without access to the server's file system."""
    import psycopg

    name = "provisioner_test_space"
    with psycopg.connect(pg_server.url("postgres"), autocommit=True) as conn:
        conn.execute("SET allow_in_place_tablespaces = on")
        conn.execute(f"CREATE TABLESPACE {name} LOCATION ''")
    return name


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


@pytest.fixture(scope="session", autouse=True)
def leak_guard(request):
    """After the whole suite: no generated or admin password in any output, nor in a server's statement log."""
    yield
    if not STARTED:
        return
    in_outputs, in_logs = leaks()
    assert not in_outputs, f"{len(in_outputs)} password(s) appeared in CLI output"
    assert not in_logs, f"{len(in_logs)} password(s) appeared in a database server's statement log"


def _version(server: sandbox.Server, query: str) -> str:
    rows = ADAPTERS["postgres" if server.engine == "postgres" else "mariadb"].sql(server, server.database, query, ())
    return str(rows[0][0]) if rows else "?"


def pytest_terminal_summary(terminalreporter):
    if SERVER_VERSIONS:
        terminalreporter.write_line("servers: " + ", ".join(f"{k} {v}" for k, v in sorted(SERVER_VERSIONS.items())))
    if FAULTS["injected"]:
        terminalreporter.write_line(
            "crash-safety: {injected} faults injected (process killed with SIGKILL), {lost} credentials lost, "
            "{pending_only} moments where only AWSPENDING logged in (single-user change between setting the "
            "password and promoting it; recovered by the rerun)".format(**FAULTS))
    engines = sorted({key.rsplit(" ", 1)[0] for key in DIFFERENTIAL})
    for engine in engines:
        terminalreporter.write_line(
            f"differential {engine}: {DIFFERENTIAL[engine + ' cases']} cases, {DIFFERENTIAL[engine + ' cells']} "
            f"cells compared, {DIFFERENTIAL[engine + ' drift']} drift statements, "
            f"{DIFFERENTIAL[engine + ' seconds']:.0f} s")
    if LEAK_REPORT:
        terminalreporter.write_line(
            "secret-leak check: {outputs} outputs scanned for {passwords} passwords: {leaks} leaked in output, "
            "{server_log_leaks} in the PostgreSQL and MariaDB statement logs".format(**LEAK_REPORT))


@pytest.fixture(scope="session")
def rotation_lambda(aws) -> str:
    return sandbox.register_rotation_function()


def _world(server: sandbox.Server, engine: str, prefix: str, target_prefix: str, tmp_path, monkeypatch):
    ADMIN_PASSWORDS.add(server.password)
    if server.log_file and server.log_file not in SERVER_LOGS:
        SERVER_LOGS.append(server.log_file)
    suffix = uuid.uuid4().hex[:8]
    database = f"{prefix}_{suffix}"
    ADAPTERS[engine].create_database(server, database)
    monkeypatch.chdir(tmp_path)
    yield Env(server, database, f"{target_prefix}{suffix}", tmp_path, monkeypatch, engine=engine)
    collect_passwords()
    ADAPTERS[engine].reset(server, database)


@pytest.fixture
def env(pg_server, aws, tmp_path, monkeypatch):
    yield from _world(pg_server, "postgres", "db", "t", tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def maria_server():
    server = sandbox.start_mariadb(general_log=True)  # every statement logged: searched for passwords at the end
    SERVER_VERSIONS["MariaDB"] = _version(server, "SELECT VERSION()")
    yield server
    server.stop()


@pytest.fixture
def menv(maria_server, aws, tmp_path, monkeypatch):
    """Like `env`, on the session's MariaDB: a database `billing_<id>` and a target of its own."""
    yield from _world(maria_server, "mariadb", "billing", "m", tmp_path, monkeypatch)


SERVER_VERSIONS: dict[str, str] = {}  # engine -> the version the session's server reports


def pytest_report_header(config):
    wanted = os.environ.get("PROVISIONER_PG_VERSION")
    return [f"PostgreSQL under test: {wanted or 'the newest Debian build'} (PROVISIONER_PG_VERSION)"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Every failure names the server version it ran against (the PostgreSQL matrix runs the same tests on
    several majors)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and SERVER_VERSIONS:
        versions = ", ".join(f"{engine} {version}" for engine, version in sorted(SERVER_VERSIONS.items()))
        report.sections.append(("server version", versions))
