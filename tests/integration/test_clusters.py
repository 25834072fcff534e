"""Several targets, one server (SPEC 7): roles are server-wide, so one role under two targets of the same server
is refused — by `validate` when host and port are equal, by `plan` and `apply` when the servers prove to be the
same — before anything is written: no role, no secret."""

from __future__ import annotations

import contextlib

from support.recorders import sm_client


def _two_targets(env, second_host: str) -> None:
    env.manifest(f"""
version: 1
targets:
  {env.target}:
    engine: postgres
    host: {env.server.host}
    port: {env.server.port}
    database: {env.database}
    admin: {{url_env: {env.url_env}}}
  {env.target}b:
    engine: postgres
    host: {second_host}
    port: {env.server.port}
    database: postgres
    admin: {{url_env: {env.url_env}}}
accounts:
  - name: reporter
    target: {env.target}
  - name: reporter
    target: {env.target}b
  - name: only_here
    target: {env.target}b
""", header=False)


def _secrets(env) -> list[str]:
    """The secrets either target would have made (none may exist)."""
    client, found = sm_client(), []
    for name in (f"{env.target}/reporter", f"{env.target}b/reporter", f"{env.target}b/only_here"):
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            found.append(client.describe_secret(SecretId=name)["Name"])
    return found


def test_the_same_role_under_two_targets_of_one_server_is_refused_before_anything_is_written(env):
    _two_targets(env, env.server.host)
    result = env.cli("validate", "-f", "accounts.yaml", expect=1)
    assert "account 'reporter' is also declared under target" in result.text
    assert f"both targets are {env.server.host}:{env.server.port}" in result.text
    # Another name for the same server: validation cannot know, the plan asks the servers.
    _two_targets(env, "localhost")
    env.cli("validate", "-f", "accounts.yaml")
    for command in (["plan"], ["apply", "--yes"]):
        result = env.cli(*command, "-f", "accounts.yaml", expect=1)
        assert "the same server is reached by two targets" in result.text, result.text
        assert f"targets {env.target} and {env.target}b declare reporter" in result.text
    assert not env.role_exists("reporter") and not env.role_exists("only_here")
    assert _secrets(env) == []
