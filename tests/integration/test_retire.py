"""Retirement (SPEC 7): a role that owns objects leaves with `retire: {reassign_owned_to, terminate_sessions}` —
LOGIN revoked, its open sessions ended, its objects reassigned, what it still holds dropped, then the role —
in one apply, each step in the plan; without `retire` the plan refuses and names the database and the count."""

from __future__ import annotations

import psycopg
import pytest

MANIFEST = """
roles:
  - name: films_owner
    target: {target}
accounts:
  - name: old_batch
    target: {target}
    {state}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
      - {{privileges: [CREATE], schemas: [public]}}
"""


def test_a_role_owning_a_table_and_a_sequence_is_retired_while_one_of_its_sessions_is_open(env):
    env.sql("CREATE TABLE public.films (id int)")
    env.manifest(MANIFEST.format(target=env.target, state=""))
    env.apply()
    secret = env.secret("old_batch")
    session = psycopg.connect(host=env.server.host, port=env.server.port, user="old_batch",
                              password=secret["password"], dbname=env.database, autocommit=True)
    session.execute("CREATE TABLE public.batch_runs (id serial, note text)")  # a table and its sequence
    env.manifest(MANIFEST.format(target=env.target, state="state: absent"))
    refused = env.cli("plan", "-f", "accounts.yaml", expect=1)
    assert "old_batch cannot be dropped: it owns 2 object(s) in database " + env.database in refused.text
    env.manifest(MANIFEST.format(target=env.target, state="state: absent\n    retire: {reassign_owned_to: "
                                                         "films_owner, terminate_sessions: true}"))
    plan = env.cli("plan", "-f", "accounts.yaml").out
    steps = [line.strip() for line in plan.splitlines() if "old_batch" in line and line.strip()[:1] in "~-"]
    assert steps[:4] == ['~ ALTER ROLE "old_batch" NOLOGIN',
                         "- SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = "
                         "'old_batch' AND pid <> pg_backend_pid()",
                         '- REASSIGN OWNED BY "old_batch" TO "films_owner"', '- DROP OWNED BY "old_batch"'], plan
    env.apply()
    assert not env.role_exists("old_batch")
    owners = env.sql("SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relname LIKE 'batch_runs%' "
                     "ORDER BY 1")
    assert owners == [("batch_runs", "films_owner"), ("batch_runs_id_seq", "films_owner")]
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")  # its session was ended
    env.assert_converged()
