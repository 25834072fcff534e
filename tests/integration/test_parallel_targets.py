"""Several targets planned at once: in forked worker processes (one per core), the plan is the one a serial run
makes, the Secrets Manager calls the workers make are counted, and a target that fails says which it is."""

from __future__ import annotations

import json

import boto3


def _targets(env, names: list[str], admin_secret: str) -> None:
    targets = "".join(f"""
  {name}:
    engine: postgres
    host: {env.server.host}
    port: {env.server.port}
    database: {name}
    admin: {{secret: "{admin_secret}"}}""" for name in names)
    accounts = "".join(f"""
  - name: reader_{name}
    target: {name}
    grants: [{{privileges: [SELECT], tables: [public.films]}}]""" for name in names)
    env.manifest(f"version: 1\ntargets:{targets}\naccounts:{accounts}\n", header=False)


def test_targets_planned_in_processes_match_a_serial_plan_and_count_every_call(env):
    names = [f"{env.database}_p{i}" for i in range(3)]
    for name in names:
        env.adapter.create_database(env.server, name)
        env.adapter.sql(env.server, name, "CREATE TABLE public.films (id int)", ())
    admin = f"admin-{env.target}-parallel"
    boto3.client("secretsmanager").create_secret(Name=admin, SecretString=json.dumps(
        {"username": env.server.user, "password": env.server.password}))
    try:
        _targets(env, names, admin)
        serial = json.loads(env.cli("plan", "-f", "accounts.yaml", "--format", "json", "--parallelism", "1").out)
        parallel = json.loads(env.cli("plan", "-f", "accounts.yaml", "--format", "json", "--parallelism", "4").out)
        assert [t["name"] for t in parallel["targets"]] == names
        assert parallel == serial
        # each worker read its target's admin secret: the count includes those reads
        assert parallel["targets"][0]["secrets_manager_calls"] >= len(names) + 1
        assert all(t["summary"]["add"] >= 3 for t in parallel["targets"])  # role, comment, grant at least

        boto3.client("secretsmanager").put_secret_value(SecretId=admin, SecretString=json.dumps(
            {"username": env.server.user, "password": "not-the-password"}))
        result = env.cli("plan", "-f", "accounts.yaml", "--parallelism", "4", expect=1)
        assert f"target {names[0]}" in result.text and "Traceback" not in result.text, result.text
        assert "not-the-password" not in result.text
    finally:
        for name in names:
            env.adapter.sql(env.server, "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', ())
        boto3.client("secretsmanager").delete_secret(SecretId=admin, ForceDeleteWithoutRecovery=True)
