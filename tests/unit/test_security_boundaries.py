"""The IAM boundaries docs/security.md says the guarantees assume, checked against docs/iam/*.json, and the
binding that records where an account lives (`core.binding`), as pure functions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioner.commands.onboard import iam_policy
from provisioner.core.binding import (
    FIELDS,
    changed_fields,
    endpoint_of,
    host_part_matches,
    mismatches,
    record,
)

IAM = Path(__file__).resolve().parents[2] / "docs" / "iam"
TAGGING = {"secretsmanager:TagResource", "secretsmanager:UntagResource"}


def actions(policy: dict) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        if statement.get("Effect", "Allow") == "Allow":
            listed = statement["Action"]
            found |= {listed} if isinstance(listed, str) else set(listed)
    return found


def policies() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(IAM.glob("*.json"))}


def test_only_apply_may_write_tags_where_the_binding_lives():
    found = policies()
    assert {"apply", "plan", "rotate", "rotation-lambda", "doctor"} <= set(found)
    for name, policy in found.items():
        granted = actions(policy)
        assert "secretsmanager:*" not in granted and "*" not in granted, name
        if name != "apply":
            assert not granted & TAGGING, f"{name}.json lets its holder rewrite the binding tag"


def test_every_secret_write_is_limited_to_managed_secrets():
    writes = {"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
              "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:TagResource",
              "secretsmanager:UntagResource", "secretsmanager:RotateSecret", "secretsmanager:CreateSecret"}
    for name, policy in policies().items():
        for statement in policy["Statement"]:
            listed = statement["Action"]
            if set([listed] if isinstance(listed, str) else listed) & writes:
                condition = json.dumps(statement.get("Condition", {}))
                assert "provisioner:managed" in condition, (name, statement.get("Sid"))


def test_the_policy_onboard_prints_lets_a_service_only_read_its_secret():
    policy = iam_policy("films/app", None, "us-east-1", "123456789012")
    assert actions(policy) == {"secretsmanager:GetSecretValue"}
    assert policy["Statement"][0]["Resource"].endswith(":secret:films/app-??????")


VALUE = {"engine": "postgres", "host": "db.example.com", "port": 5432, "dbname": "filmdb", "username": "app"}


def test_the_binding_names_every_field_that_differs():
    tag = record(endpoint_of(VALUE, "app"))
    assert len(tag) <= 256 and set(tag) <= set("b1:0123456789abcdef")
    assert mismatches(tag, endpoint_of(VALUE, "app")) == []
    # Normalised as the connection code reads the value: aliases, default port, case of the host name.
    assert mismatches(tag, endpoint_of({**VALUE, "engine": "aurora-postgresql", "host": "DB.example.com"},
                                       "app")) == []
    assert mismatches(tag, endpoint_of({**VALUE, "port": None}, "app")) == []
    moved = {**VALUE, "host": "127.0.0.2", "port": 6543, "masterarn": "arn:aws:secretsmanager:x"}
    assert mismatches(tag, endpoint_of(moved, "app")) == ["host", "port", "masterarn"]
    assert mismatches(tag, endpoint_of(VALUE, "admin")) == ["account"]
    assert mismatches(None, endpoint_of(VALUE, "app")) == list(FIELDS)
    assert mismatches("b1:garbage", endpoint_of(VALUE, "app"), ignore=("host_part",)) == [
        f for f in FIELDS if f != "host_part"]
    assert changed_fields(tag, record(endpoint_of(moved, "app"))) == ["host", "port", "masterarn"]


def test_the_binding_records_the_mysql_host_part():
    value = {**VALUE, "engine": "mariadb", "port": 3306}
    tag = record(endpoint_of(value, "app", "10.0.%"))
    assert host_part_matches(tag, "10.0.%") and not host_part_matches(tag, "%")
    assert mismatches(tag, endpoint_of(value, "app"), ignore=("host_part",)) == []
    assert not host_part_matches(None, "10.0.%")


@pytest.mark.parametrize("field", ["engine", "host", "port", "dbname", "masterarn"])
def test_no_value_writer_edit_of_a_connection_field_goes_unnoticed(field):
    tag = record(endpoint_of(VALUE, "app"))
    edited = {**VALUE, field: {"engine": "mysql", "port": 1}.get(field, "elsewhere")}
    assert field in mismatches(tag, endpoint_of(edited, "app"))
