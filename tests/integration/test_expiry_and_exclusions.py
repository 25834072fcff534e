"""Expiry and exclusions (SPEC 11) on real servers: an account, a membership and a grant that expire a few seconds
after the first apply are gone after the next one (the server says so), the plan is then empty; `except:` keeps a
`schema.*` grant off the objects it names, including one created later, which the next apply takes back."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone


def _soon(seconds: float = 3) -> tuple[str, datetime]:
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), moment


def _until(moment: datetime) -> None:
    """Sleep until `moment` has passed (a few seconds at most: the timestamps are set just ahead)."""
    wait = (moment - datetime.now(timezone.utc)).total_seconds() + 0.3
    assert wait < 30, "the expiry was set too far ahead for this test"
    time.sleep(max(wait, 0))


PG = """
roles:
  - name: writers
    grants:
      - {{privileges: [INSERT], tables: [app.films]}}
accounts:
  - name: reader
    member_of: [{{role: writers, expires: "{soon}"}}]
    grants:
      - {{privileges: [SELECT], tables: [app.films]}}
      - {{privileges: [UPDATE], tables: [app.films], expires: "{soon}"}}
  - name: contractor
    expires: "{soon}"
    grants:
      - {{privileges: [SELECT], tables: [app.films]}}
"""


def _entries(body: str, env) -> str:
    return body.replace("- name:", f"- target: {env.target}\n    name:")


def test_account_membership_and_grant_expire_on_postgres(env):
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int)")
    soon, moment = _soon()
    env.manifest(_entries(PG.format(soon=soon), env))
    env.apply()
    assert env.sql("SELECT has_table_privilege('reader', 'app.films', 'UPDATE'), "
                   "pg_has_role('reader', 'writers', 'MEMBER'), has_table_privilege('contractor', 'app.films', "
                   "'SELECT')") == [(True, True, True)]
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert "expires at" in plan and "(in " in plan  # announced while it is still to come
    _until(moment)
    plan = env.cli("plan", "-f", "accounts.yaml").out
    for note in ("account contractor expired at", "reader: membership in writers expired at",
                 "reader: UPDATE on table app.films expired at"):
        assert note in plan, plan
    env.apply()
    assert env.sql("SELECT has_table_privilege('reader', 'app.films', 'UPDATE'), "
                   "pg_has_role('reader', 'writers', 'MEMBER'), has_table_privilege('reader', 'app.films', 'SELECT')"
                   ) == [(False, False, True)]
    assert not env.role_exists("contractor")
    assert env.describe("contractor").get("DeletedDate") is not None  # its secret is scheduled for deletion
    assert env.logs_in("reader")
    env.assert_converged()  # the expired items stay in the file: nothing more to do, the plan is empty


MARIA = """
roles:
  - name: writers
    grants:
      - {{privileges: [INSERT], tables: ["{db}.films"]}}
accounts:
  - name: reader
    member_of: [{{role: writers, expires: "{soon}"}}]
    grants:
      - {{privileges: [SELECT], tables: ["{db}.films"]}}
      - {{privileges: [UPDATE], tables: ["{db}.films"], expires: "{soon}"}}
  - name: contractor
    expires: "{soon}"
    grants:
      - {{privileges: [SELECT], tables: ["{db}.films"]}}
"""


def _maria_grants(menv, user: str, host: str = "%") -> set[str]:
    return {str(p) for (p,) in menv.sql(
        "SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = %s",
        (f"'{user}'@'{host}'",))}


def test_account_membership_and_grant_expire_on_mariadb(menv):
    menv.sql("CREATE TABLE films (id int)")
    soon, moment = _soon()
    menv.manifest(_entries(MARIA.format(soon=soon, db=menv.database), menv))
    menv.apply()
    assert _maria_grants(menv, "reader") == {"SELECT", "UPDATE"}
    assert menv.sql("SELECT count(*) FROM mysql.roles_mapping WHERE User = 'reader' AND Role = 'writers'") == [(1,)]
    _until(moment)
    menv.apply()
    assert _maria_grants(menv, "reader") == {"SELECT"}
    assert menv.sql("SELECT count(*) FROM mysql.roles_mapping WHERE User = 'reader' AND Role = 'writers'") == [(0,)]
    assert not menv.role_exists("contractor")
    assert menv.logs_in("reader")
    menv.assert_converged()


EXCEPT = """
accounts:
  - name: analyst
    grants:
      - {privileges: [SELECT], tables: ["app.*"], except: [app.audit_log, "app.tmp_*"]}
"""


def test_except_keeps_the_wildcard_off_named_and_later_objects(env):
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int); CREATE TABLE app.audit_log (id int); "
            "CREATE TABLE app.tmp_a (id int); GRANT SELECT ON app.tmp_a TO PUBLIC; REVOKE SELECT ON app.tmp_a "
            "FROM PUBLIC")
    env.manifest(_entries(EXCEPT, env))
    env.apply()
    checks = {"app.films": True, "app.audit_log": False, "app.tmp_a": False}
    for table, want in checks.items():
        assert env.sql(f"SELECT has_table_privilege('analyst', '{table}', 'SELECT')") == [(want,)], table
    env.assert_converged()
    # later objects: default privileges cannot except, so a matching one gets SELECT until the next apply
    env.sql("CREATE TABLE app.tmp_b (id int); CREATE TABLE app.rentals (id int)")
    assert env.sql("SELECT has_table_privilege('analyst', 'app.tmp_b', 'SELECT'), "
                   "has_table_privilege('analyst', 'app.rentals', 'SELECT')") == [(True, True)]
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert 'REVOKE SELECT ON TABLE "app"."tmp_b" FROM "analyst"' in plan, plan
    env.apply()
    assert env.sql("SELECT has_table_privilege('analyst', 'app.tmp_b', 'SELECT'), "
                   "has_table_privilege('analyst', 'app.rentals', 'SELECT')") == [(False, True)]
    env.sql("GRANT SELECT ON app.audit_log TO analyst")  # out of band: taken back like any undeclared grant
    env.apply()
    assert env.sql("SELECT has_table_privilege('analyst', 'app.audit_log', 'SELECT')") == [(False,)]
    env.assert_converged()
