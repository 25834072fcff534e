"""Replica secrets (SPEC 11) on moto's Secrets Manager with real databases: apply replicates an account's secret to
the regions the manifest lists (with their KMS keys), removes a region taken out of the list, deletes a
replicated secret (replicas first), and `doctor` reports a replica that failed."""

from __future__ import annotations

import json

import boto3
import pytest
from support.recorders import ENDPOINT

BODY = """
accounts:
  - name: app_rw
    secret: {{replica_regions: {{{regions}}}}}
    grants:
      - {{privileges: [SELECT], tables: ["{table}"]}}
"""


def _entries(body: str, env) -> str:
    return body.replace("- name:", f"- target: {env.target}\n    name:")


def _in_region(region: str):
    return boto3.client("secretsmanager", region_name=region, endpoint_url=ENDPOINT[0])


def _replicas(env) -> dict[str, str]:
    return {s["Region"]: s["KmsKeyId"] for s in env.describe("app_rw").get("ReplicationStatus", [])}


@pytest.mark.parametrize("world", ["env", "menv"])
def test_replicas_are_added_changed_removed_and_deleted_with_the_secret(world, request):
    env = request.getfixturevalue(world)
    table = "app.films" if world == "env" else f"{env.database}.films"
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int)" if world == "env" else "CREATE TABLE films (id int)")
    body = BODY.format(regions="us-west-2: alias/db-secrets, eu-west-1: ''", table=table)
    env.manifest(_entries(body, env))
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert "replicas" in plan
    env.apply()
    assert _replicas(env) == {"us-west-2": "alias/db-secrets", "eu-west-1": "alias/aws/secretsmanager"}
    name = f"{env.target}/app_rw"
    replica = json.loads(_in_region("us-west-2").get_secret_value(SecretId=name)["SecretString"])
    assert replica == env.secret("app_rw")  # the replica holds the primary's value
    assert env.describe("app_rw")["Tags"] and env.logs_in("app_rw")
    env.assert_converged()
    # one region out, the other's key changed: the plan shows both; apply removes and re-replicates
    env.manifest(_entries(BODY.format(regions="us-west-2: alias/other-key", table=table), env))
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert "replicas" in plan and "eu-west-1" in plan
    env.apply()
    assert _replicas(env) == {"us-west-2": "alias/other-key"}
    with pytest.raises(Exception):  # noqa: B017 - the eu-west-1 replica is gone
        _in_region("eu-west-1").describe_secret(SecretId=name)
    env.assert_converged()
    doctor = env.cli("doctor", "-f", "accounts.yaml", "--format", "json", expect=None)
    checks = {c["name"]: c for r in json.loads(doctor.out) for c in r["checks"]}
    assert checks["replication"]["status"] == "PASS", checks["replication"]
    # the account leaves: its replicated secret is deleted (Secrets Manager refuses while replicas exist)
    env.manifest("")
    env.apply()
    assert env.describe("app_rw").get("DeletedDate") is not None
    assert "ReplicationStatus" not in env.describe("app_rw")


def test_doctor_reports_a_replica_that_failed(env):
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int)")
    name = f"{env.target}/app_rw"
    _in_region("ap-south-1").create_secret(Name=name, SecretString="{}")  # the name is taken there
    try:
        env.manifest(_entries(BODY.format(regions="ap-south-1: ''", table="app.films"), env))
        env.apply()
        [status] = env.describe("app_rw")["ReplicationStatus"]
        assert status["Status"] == "Failed"
        doctor = env.cli("doctor", "-f", "accounts.yaml", "--format", "json", expect=None)
        checks = {c["name"]: c for r in json.loads(doctor.out) for c in r["checks"]}
        assert checks["replication"]["status"] == "FAIL" and "ap-south-1: Failed" in checks["replication"]["detail"]
        assert doctor.code == 1
        plan = env.cli("plan", "-f", "accounts.yaml").out
        assert "replicas" in plan  # a failed replica is shown gone: apply tries again
    finally:
        _in_region("ap-south-1").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
