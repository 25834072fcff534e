"""One test's world (`Env`): its own database on the session's server, its own target name, a temp directory,
the command line run in-process or as a process, and the engine adapter for SQL and logins."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools import sandbox
from provisioner import cli
from support.engines import ADAPTERS, EngineAdapter
from support.recorders import OUTPUTS, sm_client


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


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

    @property
    def adapter(self) -> EngineAdapter:
        return ADAPTERS[self.engine]

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
                 host: str | None = None, port: int | None = None, target_extra: str = "",
                 admin: str | None = None) -> Path:
        """The manifest `body` under a header naming this test's target (`target_extra`: more keys of the target,
        as YAML indented by four spaces; `admin`: the target's admin source, as YAML)."""
        text = textwrap.dedent(body).strip("\n") + "\n"
        if header:
            if admin is None:
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
                """) + target_extra + text
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

    def cli_process(self, *args: str, env: dict[str, str] | None = None, expect: int | None = 0,
                    clean: dict[str, str] | None = None) -> Result:
        """The CLI as a process; `clean`: exactly this environment (nothing inherited), as a user's shell."""
        full_env = clean if clean is not None else {**os.environ, **(env or {})}
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
        return self.adapter.sql(self.server, self.database, query, params)

    def connect_as(self, user: str, password: str, database: bool = True) -> Any:
        return self.adapter.connect_as(self.server, self.database, user, password, with_database=database)

    # ---- secrets

    def secret(self, account: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
        value = sm_client().get_secret_value(SecretId=f"{self.target}/{account}", VersionStage=stage)
        return json.loads(value["SecretString"])

    def describe(self, account: str) -> dict[str, Any]:
        return sm_client().describe_secret(SecretId=f"{self.target}/{account}")

    def role_exists(self, name: str) -> bool:
        return self.adapter.role_exists(self.server, self.database, name)

    def has_stage(self, account: str, stage: str) -> bool:
        stages = self.describe(account).get("VersionIdsToStages", {})
        return any(stage in s for s in stages.values())

    def logs_in(self, account: str, stage: str = "AWSCURRENT") -> bool:
        value = self.secret(account, stage)
        try:
            # Whether the password logs in, apart from access to the database (MySQL separates the two).
            conn = self.connect_as(value["username"], value["password"], database=False)
        except self.adapter.login_errors:
            return False
        conn.close()
        return True
