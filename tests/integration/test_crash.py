"""Crash anywhere: `apply` and rotation killed (SIGKILL) at every step boundary, on PostgreSQL and MariaDB.

After every kill: no credential is lost (every account with a secret logs in with AWSCURRENT, or with
AWSPENDING in the instant of a single-user password change) and no account is left without a secret; then the
rerun converges to an empty plan with every account logging in with AWSCURRENT. The suite prints the number of
faults injected and of credentials lost (must be 0).
"""

from __future__ import annotations

import pytest
from support.recorders import record_fault

APPLY_POINTS = ("after-secret-write", "before-database", "between-statements", "before-commit", "after-commit",
                "after-secret-finish")
ROTATION_POINTS = ("after-createSecret", "after-setSecret", "after-testSecret", "after-finishSecret")

BEFORE = """
accounts:
  - {{name: keeper, target: {t}, grants: [{{privileges: [SELECT], tables: [{q}.films]}}]}}
  - {{name: changer, target: {t}, grants: [{{privileges: [SELECT, INSERT], tables: [{q}.films]}}]}}
  - {{name: leaver, target: {t}, grants: [{{privileges: [SELECT], tables: [{q}.films]}}]}}
"""
AFTER = """
accounts:
  - {{name: keeper, target: {t}, grants: [{{privileges: [SELECT], tables: [{q}.films]}}]}}
  - {{name: changer, target: {t}, grants: [{{privileges: [SELECT, UPDATE], tables: [{q}.films]}}]}}
  - {{name: newcomer, target: {t}, grants: [{{privileges: [SELECT], tables: [{q}.films]}}]}}
  - {{name: twin, target: {t}, rotation: {{strategy: alternating}},
      grants: [{{privileges: [SELECT], tables: [{q}.films]}}]}}
"""
ACCOUNTS = ["keeper", "changer", "leaver", "newcomer", "twin"]


def manifests(env):
    qualifier = "public" if env.engine == "postgres" else env.database
    return (BEFORE.format(t=env.target, q=qualifier), AFTER.format(t=env.target, q=qualifier))


def crash_apply_everywhere(env) -> int:
    before, after = manifests(env)
    env.sql("CREATE TABLE films (id int)")
    kills = 0
    for point in APPLY_POINTS:
        n = 1
        while True:
            env.manifest(before, admin_secret=True)
            env.apply()
            env.manifest(after, admin_secret=True)
            killed = env.cli_process("apply", "--yes", "--reset-password", "keeper",
                                     env={"PROVISIONER_FAULT": f"{point}:{n}"}, expect=None)
            if killed.code == 0:
                break  # the point was reached fewer than n times: every occurrence has been tried
            assert killed.code == -9, killed.text
            kills += 1
            record_fault(env, ACCOUNTS)
            env.apply()
            env.assert_converged()
            for account in ("keeper", "changer", "newcomer", "twin"):
                assert env.logs_in(account), f"{account} after a kill at {point}:{n}"
            assert not env.role_exists("leaver")
            n += 1
    return kills


def test_apply_killed_at_every_boundary_on_postgres(env):
    assert crash_apply_everywhere(env) >= 15  # one kill per boundary the apply crosses


def test_apply_killed_at_every_boundary_on_mariadb(menv):
    assert crash_apply_everywhere(menv) >= 15


@pytest.mark.parametrize("strategy", ["single", "alternating"])
@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_rotation_killed_after_every_step(request, engine, strategy):
    env = request.getfixturevalue("env" if engine == "postgres" else "menv")
    qualifier = "public" if engine == "postgres" else env.database
    env.sql("CREATE TABLE films (id int)")
    env.manifest(f"""
        accounts:
          - {{name: spinner, target: {env.target}, rotation: {{strategy: {strategy}}},
              grants: [{{privileges: [SELECT], tables: [{qualifier}.films]}}]}}
        """, admin_secret=True)
    env.apply()
    for point in ROTATION_POINTS:
        killed = env.cli_process("rotate", "spinner", env={"PROVISIONER_FAULT": point}, expect=None)
        assert killed.code == -9, killed.text
        record_fault(env, ["spinner"])
        env.cli("rotate", "spinner")
        assert env.logs_in("spinner")
    env.assert_converged()


RETIRING = """
roles:
  - {{name: heir, target: {t}}}
accounts:
  - {{name: retiree, target: {t}, {state} grants: [{{privileges: [CREATE], schemas: [public]}}]}}
"""
RETIRE = "state: absent, retire: {reassign_owned_to: heir, terminate_sessions: true},"


def test_retirement_killed_between_its_steps_keeps_the_role_whole_or_gone(env):
    """A kill between the steps (NOLOGIN, sessions, REASSIGN, DROP OWNED, DROP ROLE) leaves the role able to do
    what it could, or gone; the rerun finishes."""
    kills = 0
    for n in range(1, 10):
        env.manifest(RETIRING.format(t=env.target, state=""))
        env.apply()
        with env.connect_as("retiree", env.secret("retiree")["password"]) as conn:
            conn.execute(f"CREATE TABLE public.owned_{n} (id serial)")
        env.manifest(RETIRING.format(t=env.target, state=RETIRE))
        killed = env.cli_process("apply", "--yes", env={"PROVISIONER_FAULT": f"between-statements:{n}"},
                                 expect=None)
        if killed.code == 0:
            break
        assert killed.code == -9, killed.text
        kills += 1
        record_fault(env, ["retiree"])
        if env.role_exists("retiree"):  # rolled back: the role still logs in and still owns its table
            assert env.logs_in("retiree")
            assert env.sql(f"SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'owned_{n}'") == [
                ("retiree",)]
        env.apply()
        assert not env.role_exists("retiree")
        assert env.sql(f"SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'owned_{n}'") == [("heir",)]
        env.assert_converged()
    assert kills >= 4
