"""The first hour against real servers: the region from AWS_REGION alone in a clean environment, `apply
--format json` as one document on stdout, and rotate of an account that was never applied."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
from support.terminal import run_on_terminal

ROOT = Path(__file__).resolve().parents[2]
READER = """
accounts:
  - name: reader_user
    target: {target}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
"""


def clean_environment(env, aws, **region: str) -> dict[str, str]:
    """Only what a user's shell would have: PATH, HOME, the admin URL, the endpoint, credentials, `region`."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    aws_env = {k: v for k, v in aws.environment().items() if not k.endswith("REGION")}
    return {**keep, **aws_env, env.url_env: env.server.url(env.database), **region}


def test_aws_region_alone_and_aws_default_region_alone_both_work(env, aws, monkeypatch):
    env.sql("CREATE TABLE public.films (id int)")
    env.manifest(READER.format(target=env.target))
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        result = env.cli_process("plan", "-f", "accounts.yaml", expect=None,
                                 clean=clean_environment(env, aws, **{variable: "us-east-1"}))
        assert result.code == 0, f"{variable} alone: {result.text}"
        assert "You must specify a region" not in result.text and "create with a new 32-character" in result.out


def test_apply_json_is_one_document_with_plan_and_result(env, aws):
    env.sql("CREATE TABLE public.films (id int)")
    env.manifest(READER.format(target=env.target))
    result = env.cli("apply", "--yes", "-f", "accounts.yaml", "--format", "json")
    document = json.loads(result.out)  # nothing but the document on stdout
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["kind"] == "apply" and document["result"]["applied"]["add"] >= 3
    assert "Apply complete" in result.err and "Apply complete" not in result.out


def test_rotate_of_an_account_never_applied_says_to_apply_first(env, aws):
    env.manifest(READER.format(target=env.target))
    result = env.cli("rotate", "-f", "accounts.yaml", "reader_user", expect=1)
    assert "was never applied" in result.err and "run `provisioner apply` first" in result.err
    assert "run rotate again to resume" not in result.err


def test_apply_shows_progress_per_target_and_phase_on_a_terminal(env, aws):
    env.sql("CREATE TABLE public.films (id int)")
    env.manifest(READER.format(target=env.target))
    shown = run_on_terminal(["apply", "--yes", "-f", "accounts.yaml"], env.tmp, {**os.environ})
    for line in (f"... target {env.target}: connecting", f"... target {env.target}: 1 secret write(s) first",
                 "database change(s)", f"... target {env.target}: 1 secret follow-up(s) after the commit"):
        assert line in shown, shown


def test_apply_prints_the_layout_of_plan_in_target_order(env, menv):
    """Two targets (PostgreSQL and MariaDB) applied in parallel: whichever finishes first, the output is the plan's
    layout, targets in name order, one summary — the same every run."""
    env.sql("CREATE TABLE public.films (id int)")
    menv.sql("CREATE TABLE films (id int)")
    names = sorted([env.target, menv.target])
    body = f"""version: 1
targets:
  {env.target}: {{engine: postgres, host: {env.server.host}, port: {env.server.port}, database: {env.database},
    admin: {{url_env: {env.url_env}}}}}
  {menv.target}: {{engine: mariadb, host: {menv.server.host}, port: {menv.server.port}, database: {menv.database},
    admin: {{url_env: {menv.url_env}}}}}
accounts:
  - {{name: reader_a, target: {env.target}, grants: [{{privileges: [SELECT], tables: [public.films]}}]}}
  - {{name: reader_b, target: {menv.target}, grants: [{{privileges: [SELECT], tables: ["{menv.database}.films"]}}]}}
"""
    env.manifest(body, header=False)
    plan = env.cli("plan", "-f", "accounts.yaml").out
    applied = env.cli("apply", "--yes", "-f", "accounts.yaml").out
    for text in (plan, applied):
        heads = [line.split()[1] for line in text.splitlines() if line.startswith("Target ")]
        assert heads == names, text
    assert applied.count("Plan: ") == 1 and plan.count("Plan: ") == 1
    layout = [line for line in applied.splitlines() if not line.startswith(("Apply complete", "target "))]
    assert layout[:len(plan.splitlines())] == plan.splitlines()
