"""The same manifest, plan, apply, secrets and rotation on a real MariaDB with password authentication."""

from __future__ import annotations

import json
import threading

import pymysql
import pytest

SEED = """
CREATE TABLE invoices (id INT PRIMARY KEY AUTO_INCREMENT, customer VARCHAR(64), total INT);
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(64), email VARCHAR(128));
INSERT INTO invoices (customer, total) VALUES ('ada', 10), ('grace', 20);
CREATE FUNCTION invoice_total(i INT) RETURNS INT DETERMINISTIC RETURN i * 2
"""


def reader(env, extra: str = "", rotation: str = "none") -> str:
    return f"""
accounts:
  - name: reader_user
    target: {env.target}
    rotation: {{strategy: {rotation}}}
    grants:
      - {{privileges: [SELECT], tables: [{env.database}.invoices]}}{extra}
"""


def query(conn, text: str, params=()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(text, params or None)
        return list(cur.fetchall()) if cur.description else []


@pytest.fixture
def seeded(menv):
    menv.sql(SEED)
    return menv


def grants_of(env, user: str, host: str = "%") -> set[str]:
    rows = env.sql(f"SHOW GRANTS FOR '{user}'@'{host}'")
    return {r[0] for r in rows if not r[0].startswith("GRANT USAGE ON *.*")}


def test_seed_scenario_select_allowed_insert_denied_1142_and_the_secret_logs_in(seeded):
    env = seeded
    env.manifest(reader(env))
    plan = env.cli("plan", "--detailed-exitcode", expect=2)
    assert "CREATE USER 'reader_user'@'%' IDENTIFIED BY PASSWORD '<hash of the password from the secret>'" in plan.out
    assert f"GRANT SELECT ON `{env.database}`.`invoices` TO 'reader_user'@'%'" in plan.out
    env.apply()
    secret = env.secret("reader_user")
    assert secret["engine"] == "mariadb" and secret["port"] == env.server.port
    assert secret["dbname"] == env.database and secret["username"] == "reader_user"
    conn = env.connect_as("reader_user", secret["password"])
    assert query(conn, "SELECT customer FROM invoices ORDER BY id") == [("ada",), ("grace",)]
    with pytest.raises(pymysql.err.OperationalError) as denied:
        query(conn, "INSERT INTO invoices (customer, total) VALUES ('x', 1)")
    assert denied.value.args[0] == 1142
    conn.close()
    with pytest.raises(pymysql.err.OperationalError) as refused:
        env.connect_as("reader_user", secret["password"] + "x")
    assert refused.value.args[0] == 1045
    env.assert_converged()
    second = env.cli("apply", "--yes", "-f", "accounts.yaml")
    assert "no changes" in second.out


def test_undeclared_grants_revoked_unnamed_account_untouched(seeded):
    env = seeded
    db = env.database
    env.sql(f"CREATE USER 'legacy'@'%' IDENTIFIED BY 'legacy-pass-1';\n"
            f"GRANT SELECT, INSERT ON `{db}`.* TO 'legacy'@'%'")
    env.manifest(reader(env))
    env.apply()
    env.sql(f"GRANT INSERT ON `{db}`.invoices TO 'reader_user'@'%';\n"
            f"GRANT SELECT ON `{db}`.* TO 'reader_user'@'%';\n"
            f"GRANT PROCESS ON *.* TO 'reader_user'@'%';\n"
            f"GRANT UPDATE (email) ON `{db}`.customers TO 'reader_user'@'%'")
    plan = env.cli("plan", "--detailed-exitcode", expect=2)
    assert f"REVOKE INSERT ON `{db}`.`invoices` FROM 'reader_user'@'%'" in plan.out
    assert f"REVOKE SELECT ON `{db}`.* FROM 'reader_user'@'%'" in plan.out
    assert "REVOKE PROCESS ON *.* FROM 'reader_user'@'%'" in plan.out
    assert f"REVOKE UPDATE (`email`) ON `{db}`.`customers` FROM 'reader_user'@'%'" in plan.out
    assert "legacy" not in plan.out
    env.apply()
    assert grants_of(env, "reader_user") == {f"GRANT SELECT ON `{db}`.`invoices` TO `reader_user`@`%`"}
    assert grants_of(env, "legacy") == {f"GRANT SELECT, INSERT ON `{db}`.* TO `legacy`@`%`"}
    conn = env.connect_as("legacy", "legacy-pass-1")
    conn.close()
    env.assert_converged()


def test_roles_default_role_columns_routines_wildcard_databases_and_limits(seeded):
    env = seeded
    db = env.database
    env.sql("CREATE DATABASE app_one;\nCREATE TABLE app_one.t (id INT);\nINSERT INTO app_one.t VALUES (7);\n"
            "CREATE DATABASE appXone;\nCREATE TABLE appXone.t (id INT)")
    env.manifest(f"""
        roles:
          - name: report_role
            target: {env.target}
            grants:
              - {{privileges: [SELECT], tables: ["{db}.*"]}}
        accounts:
          - name: app_user
            target: {env.target}
            connection_limit: 5
            member_of: [report_role]
            grants:
              - {{privileges: [INSERT], tables: [{db}.invoices]}}
              - {{privileges: [UPDATE], columns: {{{db}.customers: [name]}}}}
              - {{privileges: [EXECUTE], functions: [{db}.invoice_total]}}
              - {{privileges: [SELECT], tables: ['app\\_%.*']}}
        """)
    env.apply()
    password = env.secret("app_user")["password"]
    conn = env.connect_as("app_user", password)
    assert query(conn, "SELECT COUNT(*) FROM invoices") == [(2,)]  # through the default role
    query(conn, "INSERT INTO invoices (customer, total) VALUES ('linus', 5)")
    env.sql("INSERT INTO customers VALUES (1, 'a', 'a@example.com')")
    query(conn, "UPDATE customers SET name = 'b'")  # the column grant
    with pytest.raises(pymysql.err.OperationalError) as column_denied:
        query(conn, "UPDATE customers SET email = 'x'")
    assert column_denied.value.args[0] in (1142, 1143)
    assert query(conn, "SELECT invoice_total(21)") == [(42,)]
    assert query(conn, "SELECT id FROM app_one.t") == [(7,)]
    with pytest.raises(pymysql.err.OperationalError) as denied:
        query(conn, "SELECT id FROM appXone.t")  # `app\\_%` is literal underscore, not any character
    assert denied.value.args[0] == 1142
    conn.close()
    limits = env.sql("SELECT max_user_connections FROM mysql.user WHERE User = 'app_user'")
    assert limits == [(5,)]
    assert env.sql("SELECT default_role FROM mysql.user WHERE User = 'app_user'") == [("report_role",)]
    env.assert_converged()


def test_host_restricted_account_logs_in_only_from_its_host(seeded):
    env = seeded
    env.manifest(f"""
        accounts:
          - name: local_only
            target: {env.target}
            host: "127.0.0.%"
            grants:
              - {{privileges: [SELECT], tables: [{env.database}.invoices]}}
          - name: elsewhere
            target: {env.target}
            host: "10.9.8.7"
            grants:
              - {{privileges: [SELECT], tables: [{env.database}.invoices]}}
        """)
    env.apply()
    assert env.logs_in("local_only")
    assert not env.logs_in("elsewhere")
    assert env.sql("SELECT Host FROM mysql.user WHERE User = 'local_only'") == [("127.0.0.%",)]
    env.assert_converged()


def test_removed_account_is_dropped_marker_survives_reruns(seeded):
    env = seeded
    env.sql("CREATE USER 'adopted'@'%' IDENTIFIED BY 'adopted-pass-1'")
    env.manifest(reader(env) + f"""
  - name: temp_user
    target: {env.target}
  - name: adopted
    target: {env.target}
""")
    env.apply()
    assert env.sql("SELECT user, comment FROM provisioner_meta.accounts WHERE user = 'temp_user'") == [
        ("temp_user", f"[managed by provisioner: target={env.target}]")]
    env.assert_converged()
    env.manifest(reader(env))
    plan = env.cli("plan", "--detailed-exitcode", expect=2)
    assert "DROP USER 'temp_user'@'%'" in plan.out and "DROP USER 'adopted'" not in plan.out
    env.apply()
    users = {r[0] for r in env.sql("SELECT User FROM mysql.user")}
    assert "temp_user" not in users and "adopted" in users
    assert "DeletedDate" in env.describe("temp_user")
    env.assert_converged()


@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_rotation_three_times(seeded, strategy):
    env = seeded
    env.manifest(reader(env, rotation=strategy), admin_secret=strategy == "alternating")
    env.apply()
    users = [env.secret("reader_user")["username"]]
    previous = env.secret("reader_user")["password"]
    for _ in range(3):
        env.cli("rotate", "reader_user")
        now = env.secret("reader_user")
        users.append(now["username"])
        assert env.logs_in("reader_user")
        if strategy == "alternating":
            assert env.logs_in("reader_user", "AWSPREVIOUS")
        else:
            with pytest.raises(pymysql.err.OperationalError):
                env.connect_as("reader_user", previous)
        previous = now["password"]
    if strategy == "alternating":
        assert users == ["reader_user", "reader_user_clone", "reader_user", "reader_user_clone"]
        assert grants_of(env, "reader_user_clone") == {
            g.replace("`reader_user`", "`reader_user_clone`") for g in grants_of(env, "reader_user")}
        env.manifest(reader(env, rotation=strategy, extra=f"\n      - {{privileges: [SELECT], tables: "
                            f"[{env.database}.customers]}}"), admin_secret=True)
        env.apply()
        assert len(grants_of(env, "reader_user_clone")) == len(grants_of(env, "reader_user")) == 2
    env.assert_converged()


def test_alternating_rotation_of_a_host_specific_account(seeded):
    """AWS's MySQL function fails for users whose host is not % (aws-samples/...#101)."""
    env = seeded
    env.manifest(reader(env, rotation="alternating").replace(
        "    rotation:", '    host: "127.0.0.1"\n    rotation:'), admin_secret=True)
    env.apply()
    for expected in ("reader_user_clone", "reader_user"):
        env.cli("rotate", "reader_user")
        assert env.secret("reader_user")["username"] == expected
        assert env.logs_in("reader_user") and env.logs_in("reader_user", "AWSPREVIOUS")
    assert {h for (h,) in env.sql("SELECT Host FROM mysql.user WHERE User LIKE 'reader_user%'")} == {"127.0.0.1"}


@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_killed_after_each_rotation_step(seeded, strategy):
    env = seeded
    env.manifest(reader(env, rotation=strategy), admin_secret=strategy == "alternating")
    env.apply()
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        killed = env.cli_process("rotate", "reader_user", env={"PROVISIONER_FAULT": f"after-{step}"}, expect=None)
        assert killed.code == -9, killed.text
        if strategy == "alternating" or step in ("createSecret", "finishSecret"):
            assert env.logs_in("reader_user")
        else:
            assert env.logs_in("reader_user", "AWSPENDING")
        env.cli("rotate", "reader_user")
        assert env.logs_in("reader_user")
    env.assert_converged()


def test_catalog_queries_constant_for_10_and_1000_accounts(seeded):
    env = seeded

    def manifest(count: int) -> None:
        env.manifest("accounts:\n" + "".join(
            f"  - {{name: acct_{i}, target: {env.target}, grants: [{{privileges: [SELECT], "
            f"tables: [{env.database}.invoices]}}]}}\n" for i in range(count)))

    manifest(10)
    small = json.loads(env.cli("plan", "--format", "json").out)["targets"][0]["catalog_queries"]
    for i in range(0, 300, 50):
        env.sql(";\n".join(f"CREATE USER 'other_{j}'@'%' IDENTIFIED BY 'pw-{j}-xyz';\n"
                           f"GRANT SELECT ON `{env.database}`.invoices TO 'other_{j}'@'%'" for j in range(i, i + 50)))
    manifest(1000)
    document = json.loads(env.cli("plan", "--format", "json").out)
    assert document["targets"][0]["catalog_queries"] == small
    assert document["summary"]["add"] >= 2000


def test_concurrent_applies_serialise_on_get_lock(seeded):
    env = seeded
    env.manifest(reader(env))
    results = []
    threads = [threading.Thread(target=lambda: results.append(env.cli_process("apply", "--yes", expect=None)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.code == 0 for r in results), [r.text for r in results]
    assert env.logs_in("reader_user")
    env.assert_converged()


def test_failure_midway_reports_applied_and_pending_statements_and_rerun_converges(seeded):
    env = seeded
    db = env.database
    # An admin that may create users but lacks GRANT OPTION on the database: CREATE USER runs, GRANT fails.
    env.sql(f"CREATE USER 'weak_admin'@'%' IDENTIFIED BY 'weak-admin-pw-1';\n"
            f"GRANT CREATE USER ON *.* TO 'weak_admin'@'%';\n"
            f"GRANT SELECT ON mysql.* TO 'weak_admin'@'%';\n"
            f"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON provisioner_meta.* TO 'weak_admin'@'%';\n"
            f"GRANT SELECT ON `{db}`.* TO 'weak_admin'@'%'")
    env.monkeypatch.setenv(env.url_env, env.server.url(db, user="weak_admin", password="weak-admin-pw-1"))
    env.manifest(reader(env))
    failed = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=1)
    assert "CREATE USER 'reader_user'@'%'" in failed.err and "applied before the failure" in failed.err
    assert "not applied" in failed.err and "GRANT SELECT ON" in failed.err.split("not applied")[1]
    assert "the admin lacks a privilege: GRANT command denied" in failed.err
    assert env.logs_in("reader_user")  # the account that was created logs in with its AWSCURRENT secret
    env.monkeypatch.setenv(env.url_env, env.server.url(db))
    env.apply()
    env.assert_converged()
