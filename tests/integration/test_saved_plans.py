"""Saved plans (SPEC 11) on real servers: `plan --out FILE` then `apply FILE` applies exactly what was reviewed;
the file holds no secret; apply refuses, with exit 1 and nothing written, after out-of-band drift, after a
manifest edit, against another server, and when the file was edited."""

from __future__ import annotations

import json
import re

import pytest

from devtools import sandbox

BODY = """
accounts:
  - name: app_rw
    grants:
      - {privileges: [SELECT], tables: [app.films]}
"""


def _entries(body: str, env) -> str:
    return body.replace("- name:", f"- target: {env.target}\n    name:")


def test_a_saved_plan_is_applied_exactly_and_holds_no_secret(env):
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int)")
    env.manifest(_entries(BODY, env))
    result = env.cli("plan", "-f", "accounts.yaml", "--out", "plan.json", "--format", "markdown")
    digest = json.loads((env.tmp / "plan.json").read_text())["digest"]
    assert f"Plan digest: `{digest}`" in result.out and f"saved plan: plan.json ({digest})" in result.err
    text = (env.tmp / "plan.json").read_text()
    for secret in (env.server.password, "SCRAM-SHA-256$"):
        assert secret not in text
    assert not re.search(r"md5[0-9a-f]{32}", text)  # no MD5 verifier either
    applied = env.cli("apply", "--yes", "-f", "accounts.yaml", "plan.json")
    assert digest in applied.text and "4 added" in applied.out
    assert env.sql("SELECT has_table_privilege('app_rw', 'app.films', 'SELECT')") == [(True,)]
    assert env.logs_in("app_rw")
    env.assert_converged()
    again = env.cli("apply", "--yes", "-f", "accounts.yaml", "plan.json", expect=1)
    assert "saved plan refused, nothing was written" in again.err  # it was applied: the state is not the one saved


def test_out_of_band_drift_after_the_plan_refuses_it_with_the_object_named(env):
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int); CREATE TABLE app.rentals (id int); "
            "CREATE ROLE helper")
    env.manifest(_entries(BODY, env))
    env.cli("plan", "-f", "accounts.yaml", "--out", "plan.json")
    env.sql("GRANT SELECT ON app.rentals TO helper")  # a grant made by hand between review and merge
    result = env.cli("apply", "--yes", "-f", "accounts.yaml", "plan.json", expect=1)
    assert "the live state changed since the plan was saved: role helper appeared" in result.err or \
        "table app.rentals changed" in result.err, result.err
    assert "nothing was written" in result.err
    assert not env.role_exists("app_rw")
    with pytest.raises(Exception):  # noqa: B017 - no secret either: nothing was written anywhere
        env.secret("app_rw")


def test_a_manifest_edit_or_an_edited_file_refuses_the_saved_plan(env):
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int)")
    path = env.manifest(_entries(BODY, env))
    env.cli("plan", "-f", "accounts.yaml", "--out", "plan.json")
    path.write_text(path.read_text() + "      - {privileges: [INSERT], tables: [app.films]}\n")
    result = env.cli("apply", "--yes", "-f", "accounts.yaml", "plan.json", expect=1)
    assert "the manifest changed since the plan was saved" in result.err
    assert not env.role_exists("app_rw")
    env.cli("plan", "-f", "accounts.yaml", "--out", "plan.json")
    saved = json.loads((env.tmp / "plan.json").read_text())
    saved["plan"]["summary"]["add"] = 0  # edited by hand
    (env.tmp / "plan.json").write_text(json.dumps(saved))
    result = env.cli("apply", "--yes", "-f", "accounts.yaml", "plan.json", expect=1)
    assert "was changed after it was written" in result.err
    assert not env.role_exists("app_rw")


def test_a_saved_plan_refuses_another_server(env, monkeypatch):
    """The manifest names no host: the admin URL decides the server. Plan on the session's server, then point the
    URL at another one (a second throwaway PostgreSQL on 127.0.0.1, same database and objects)."""
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int)")
    manifest = (f"version: 1\ntargets:\n  {env.target}:\n    engine: postgres\n    database: {env.database}\n"
                f"    admin: {{url_env: {env.url_env}}}\n" + _entries(BODY, env))
    env.manifest(manifest, header=False)
    env.cli("plan", "-f", "accounts.yaml", "--out", "plan.json")
    other = sandbox.start_postgres()
    try:
        sandbox.psql_as_admin(other, f'CREATE DATABASE "{env.database}"')
        sandbox.psql_as_admin(other, "CREATE SCHEMA app; CREATE TABLE app.films (id int)", database=env.database)
        monkeypatch.setenv(env.url_env, other.url(env.database))
        result = env.cli("apply", "--yes", "-f", "accounts.yaml", "plan.json", expect=1)
        assert "the server is not the one the plan was made on" in result.err, result.err
        assert "nothing was written" in result.err
        rows = env.adapter.sql(other, env.database, "SELECT count(*) FROM pg_roles WHERE rolname = 'app_rw'", ())
        assert rows == [(0,)]
    finally:
        other.stop()


MARIA = """
accounts:
  - name: app_rw
    grants:
      - {{privileges: [SELECT], tables: ["{db}.films"]}}
"""


def test_saved_plans_on_mariadb_apply_exactly_and_refuse_drift(menv):
    menv.sql("CREATE TABLE films (id int)")
    menv.sql("CREATE TABLE rentals (id int)")
    menv.manifest(_entries(MARIA.format(db=menv.database), menv))
    menv.cli("plan", "-f", "accounts.yaml", "--out", "plan.json")
    menv.sql("CREATE USER 'helper'@'%' IDENTIFIED BY 'helper-pass-123'")
    menv.sql(f"GRANT SELECT ON `{menv.database}`.`rentals` TO 'helper'@'%'")
    result = menv.cli("apply", "--yes", "-f", "accounts.yaml", "plan.json", expect=1)
    assert "the live state changed since the plan was saved" in result.err and "nothing was written" in result.err
    assert not menv.role_exists("app_rw")
    menv.cli("plan", "-f", "accounts.yaml", "--out", "plan.json")
    menv.cli("apply", "--yes", "-f", "accounts.yaml", "plan.json")
    assert menv.logs_in("app_rw")
    menv.assert_converged()
