"""MySQL 8 end to end on a real server, when a Docker engine answers (testcontainers); this machine has none, so
MySQL 8 is covered by the exact rendering tests in tests/unit/test_compile_mysql.py."""

from __future__ import annotations

import pytest


def test_real_mysql8_when_docker_answers(aws, tmp_path, monkeypatch):
    """With a Docker engine, the seed scenario against a real MySQL 8 (testcontainers); this machine has none."""
    from devtools import sandbox

    if not sandbox.docker_available():
        pytest.skip("no Docker engine: MySQL 8 is covered by the rendering tests above")
    from testcontainers.mysql import MySqlContainer

    from provisioner import cli

    with MySqlContainer("mysql:8.4", username="dbadmin", password="admin-pass-123", dbname="billing") as mysql:
        host, port = mysql.get_container_host_ip(), int(mysql.get_exposed_port(3306))
        import pymysql

        with pymysql.connect(host=host, port=port, user="root", password=mysql.root_password, database="billing",
                             autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE invoices (id INT PRIMARY KEY, total INT)")
            cur.execute("GRANT ALL ON *.* TO 'dbadmin'@'%' WITH GRANT OPTION")
        monkeypatch.setenv("MYSQL8_URL", f"mysql://dbadmin:admin-pass-123@{host}:{port}/billing")
        manifest = tmp_path / "accounts.yaml"
        manifest.write_text("version: 1\ntargets:\n  my8: {engine: mysql, database: billing, "
                            "admin: {url_env: MYSQL8_URL}}\naccounts:\n  - {name: reader_user, target: my8, "
                            "grants: [{privileges: [SELECT], tables: [billing.invoices]}]}\n")
        assert cli.main(["apply", "--yes", "-f", str(manifest)]) == 0
        assert cli.main(["plan", "-f", str(manifest), "--detailed-exitcode"]) == 0
        # SPEC 9: a dynamic privilege (mysql.global_grants) and PROXY granted out of band go in one apply
        with pymysql.connect(host=host, port=port, user="root", password=mysql.root_password,
                             autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("GRANT BINLOG_ADMIN, SYSTEM_VARIABLES_ADMIN ON *.* TO 'reader_user'@'%'")
            cur.execute("GRANT PROXY ON 'dbadmin'@'%' TO 'reader_user'@'%'")
        assert cli.main(["apply", "--yes", "-f", str(manifest)]) == 0
        with pymysql.connect(host=host, port=port, user="root", password=mysql.root_password,
                             autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("SELECT PRIV FROM mysql.global_grants WHERE USER = 'reader_user'")
            assert cur.fetchall() == ()
            cur.execute("SELECT 1 FROM mysql.proxies_priv WHERE User = 'reader_user'")
            assert cur.fetchall() == ()
        assert cli.main(["plan", "-f", str(manifest), "--detailed-exitcode"]) == 0
