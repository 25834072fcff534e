"""Every statement kind rendered for MySQL 8 (pinned exactly: no MySQL server runs here) and for MariaDB."""

from __future__ import annotations

import pytest

from provisioner.core import changes as c
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import ObjectRef
from provisioner.engines.mysql import MARIADB, MYSQL8, MySQLEngine, compiler, detect, native_password_hash
from provisioner.engines.mysql.compiler import inline

COLUMN, PROCEDURE, TABLE = ObjectKind.COLUMN, ObjectKind.PROCEDURE, ObjectKind.TABLE

BASE = {"target": "billing", "principal": "app"}


def render(dialect, change, password=None) -> list[str]:
    """The statements as the server receives them: the text with its bound values escaped by the driver."""
    return [inline(s.query, s.params) for s in compiler.statements(change, dialect, password)]


def displays(dialect, change, password=None) -> list[str]:
    return [s.display for s in compiler.statements(change, dialect, password)]


CASES = [
    (c.CreateRole(action="+", name="app", host="10.0.%", login=True, connection_limit=10, comment="billing app",
                  require_tls=True, secret="billing/app", **BASE),
     ["CREATE USER 'app'@'10.0.%' IDENTIFIED BY 'S3cret!pw' REQUIRE SSL WITH MAX_USER_CONNECTIONS 10",
      "ALTER USER 'app'@'10.0.%' COMMENT 'billing app'"],
     ["CREATE USER 'app'@'10.0.%' IDENTIFIED BY PASSWORD '" + native_password_hash("S3cret!pw")
      + "' REQUIRE SSL WITH MAX_USER_CONNECTIONS 10",
      "INSERT INTO `provisioner_meta`.accounts (user, host, comment) VALUES ('app', '10.0.%', 'billing app') "
      "ON DUPLICATE KEY UPDATE comment = VALUES(comment)"]),
    (c.CreateRole(action="+", name="readers", host="", login=False, connection_limit=None, comment="", **BASE),
     ["CREATE ROLE 'readers'@'%'"],
     ["CREATE ROLE `readers`"]),
    (c.AlterRole(action="~", name="app", host="%", was=c.ConnectionLimit(5), to=c.ConnectionLimit(None), **BASE),
     ["ALTER USER 'app'@'%' WITH MAX_USER_CONNECTIONS 0"], ["ALTER USER 'app'@'%' WITH MAX_USER_CONNECTIONS 0"]),
    (c.AlterRole(action="~", name="app", host="%", was=c.RequireTls(True), to=c.RequireTls(False), **BASE),
     ["ALTER USER 'app'@'%' REQUIRE NONE"], ["ALTER USER 'app'@'%' REQUIRE NONE"]),
    (c.AlterRole(action="~", name="app", host="%", was=c.Comment(""), to=c.Comment("it's [managed]"), **BASE),
     ["ALTER USER 'app'@'%' COMMENT 'it\\'s [managed]'"],
     ["INSERT INTO `provisioner_meta`.accounts (user, host, comment) VALUES ('app', '%', 'it\\'s [managed]') "
      "ON DUPLICATE KEY UPDATE comment = VALUES(comment)"]),
    (c.SetDefaultRoles(action="~", name="app", host="%", old=(), new=("readers", "writers"), **BASE),
     ["ALTER USER 'app'@'%' DEFAULT ROLE 'readers'@'%', 'writers'@'%'"], None),
    (c.SetDefaultRoles(action="~", name="app", host="%", old=("readers",), new=(), **BASE),
     ["ALTER USER 'app'@'%' DEFAULT ROLE NONE"], ["SET DEFAULT ROLE NONE FOR 'app'@'%'"]),
    (c.DropRole(action="-", name="app", host="10.0.%", **BASE),
     ["DROP USER 'app'@'10.0.%'"],
     ["DROP USER 'app'@'10.0.%'",
      "DELETE FROM `provisioner_meta`.accounts WHERE user = 'app' AND host = '10.0.%'"]),
    (c.SetPassword(action="~", name="app", host="%", secret="billing/app", reason="r", **BASE),
     ["ALTER USER 'app'@'%' IDENTIFIED BY 'S3cret!pw'"],
     ["ALTER USER 'app'@'%' IDENTIFIED BY PASSWORD '" + native_password_hash("S3cret!pw") + "'"]),
    (c.GrantMembership(action="+", role="readers", member="app", host="%", **BASE),
     ["GRANT 'readers'@'%' TO 'app'@'%'"], ["GRANT `readers` TO 'app'@'%'"]),
    (c.RevokeMembership(action="-", role="readers", member="app", host="%", **BASE),
     ["REVOKE 'readers'@'%' FROM 'app'@'%'"], ["REVOKE `readers` FROM 'app'@'%'"]),
    (c.GrantPrivileges(action="+", grantee="app", host="%", kind=TABLE, schema="billing",
                       objects=(ObjectRef(TABLE, "billing", "invoices"), ObjectRef(TABLE, "billing", "odd`name")),
                       privileges=("INSERT", "SELECT"), **BASE),
     ["GRANT INSERT, SELECT ON `billing`.`invoices` TO 'app'@'%'",
      "GRANT INSERT, SELECT ON `billing`.`odd``name` TO 'app'@'%'"], "same"),
    (c.GrantPrivileges(action="+", grantee="app", host="%", kind=TABLE, schema="app\\_%",
                       objects=(ObjectRef(TABLE, "app\\_%", "*"),), privileges=("SELECT",), **BASE),
     ["GRANT SELECT ON `app\\_%`.* TO 'app'@'%'"], "same"),
    (c.GrantPrivileges(action="+", grantee="app", host="%", kind=COLUMN, schema="billing",
                       objects=(ObjectRef(COLUMN, "billing", "customers", "id"),
                                ObjectRef(COLUMN, "billing", "customers", "name")),
                       privileges=("SELECT", "UPDATE"), **BASE),
     ["GRANT SELECT (`id`, `name`), UPDATE (`id`, `name`) ON `billing`.`customers` TO 'app'@'%'"], "same"),
    (c.GrantPrivileges(action="+", grantee="app", host="%", kind=PROCEDURE, schema="billing",
                       objects=(ObjectRef(PROCEDURE, "billing", "refund"),), privileges=("EXECUTE",), **BASE),
     ["GRANT EXECUTE ON PROCEDURE `billing`.`refund` TO 'app'@'%'"], "same"),
    (c.RevokePrivileges(action="-", grantee="app", host="%", kind="global", schema="",
                        objects=(ObjectRef("global", "", "*"),), privileges=("PROCESS", "RELOAD"), **BASE),
     ["REVOKE PROCESS, RELOAD ON *.* FROM 'app'@'%'"], "same"),
    # MySQL 8's dynamic global privileges (mysql.global_grants), revoked like the static ones
    (c.RevokePrivileges(action="-", grantee="app", host="%", kind=ObjectKind.GLOBAL, schema="",
                        objects=(ObjectRef(ObjectKind.GLOBAL, "", "*"),),
                        privileges=("BINLOG_ADMIN", "SYSTEM_VARIABLES_ADMIN"), **BASE),
     ["REVOKE BINLOG_ADMIN, SYSTEM_VARIABLES_ADMIN ON *.* FROM 'app'@'%'"], None),
    # PROXY: the proxied account is bound as values, host included (an empty host is '' , not a bare role)
    (c.RevokePrivileges(action="-", grantee="app", host="%", kind=ObjectKind.PROXY, schema="",
                        objects=(ObjectRef(ObjectKind.PROXY, "", "root", "localhost"),
                                 ObjectRef(ObjectKind.PROXY, "", "o'hara", "")), privileges=("PROXY",), **BASE),
     ["REVOKE PROXY ON 'root'@'localhost' FROM 'app'@'%'", "REVOKE PROXY ON 'o\\'hara'@'' FROM 'app'@'%'"],
     "same"),
]


@pytest.mark.parametrize("change,mysql8,mariadb", CASES, ids=[f"{i}-{type(c[0]).__name__}" for i, c in
                                                              enumerate(CASES)])
def test_statements_per_dialect(change, mysql8, mariadb):
    password = "S3cret!pw" if getattr(change, "secret", None) else None
    assert render(MYSQL8, change, password) == mysql8
    if mariadb == "same":
        mariadb = mysql8
    if mariadb is not None:
        assert render(MARIADB, change, password) == mariadb


def test_displays_never_show_the_password_or_its_hash():
    change = CASES[0][0]
    for dialect in (MYSQL8, MARIADB):
        shown = " ".join(displays(dialect, change, "S3cret!pw"))
        assert "S3cret!pw" not in shown and native_password_hash("S3cret!pw") not in shown
        assert "<password from the secret>" in shown or "<hash of the password from the secret>" in shown
    plan_view = " ".join(displays(MYSQL8, change))
    assert "IDENTIFIED BY '<password from the secret>'" in plan_view


def test_mariadb_roles_have_no_host_and_one_default_role():
    engine = MySQLEngine("mariadb")
    default = c.SetDefaultRoles(action="+", name="app", host="%", old=(), new=("readers",), **BASE)
    assert [inline(s.query, s.params) for s in engine.statements(default)] == [
        "SET DEFAULT ROLE `readers` FOR 'app'@'%'"]
    assert engine.traits.role_host == "" and MySQLEngine("mysql").traits.role_host == "%"
    two = c.SetDefaultRoles(action="+", name="app", host="%", old=(), new=("a", "b"), **BASE)
    with pytest.raises(Exception, match="one default role"):
        engine.statements(two)


def test_version_detection():
    assert detect("10.11.19-MariaDB-0+deb12u1") == MARIADB.__class__(True, (10, 11, 19))
    assert detect("8.0.36") == MYSQL8.__class__(False, (8, 0, 36))
    assert detect("8.4.0-commercial").mariadb is False


def test_privilege_names_are_checked_before_rendering():
    bad = c.GrantPrivileges(action="+", grantee="app", host="%", kind=TABLE, schema="b",
                            objects=(ObjectRef(TABLE, "b", "t"),), privileges=("SELECT; DROP TABLE x",), **BASE)
    with pytest.raises(ValueError):
        render(MYSQL8, bad)


def test_iam_accounts_on_mysql_8_and_refused_on_mariadb():
    """RDS for MySQL: IAM database authentication is the AWSAuthenticationPlugin, with no password."""
    create = c.CreateRole(action="+", name="etl_iam", host="%", login=True, connection_limit=None, comment="",
                          auth="iam", **BASE)
    assert render(MYSQL8, create) == ["CREATE USER 'etl_iam'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"]
    switch = c.AlterRole(action="~", name="etl_iam", host="%", was=c.Authentication("password"),
                         to=c.Authentication("iam"), **BASE)
    assert render(MYSQL8, switch) == ["ALTER USER 'etl_iam'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"]
    with pytest.raises(Exception, match="MariaDB has no IAM"):
        render(MARIADB, create)


@pytest.mark.parametrize("change", [
    c.DropOwned(action="-", name="app", **BASE),
    c.AlterOwner(action="~", kind=TABLE, obj=ObjectRef(TABLE, "billing", "t"), owner="o", was="a", **BASE),
    c.RevokeGrantOption(action="-", grantee="app", kind=TABLE, schema="billing",
                        objects=(ObjectRef(TABLE, "billing", "t"),), privileges=("SELECT",), **BASE),
    c.DeleteSecret(action="-", secret="billing/app", recovery_days=7, **BASE),
], ids=lambda ch: type(ch).__name__)
def test_changes_without_a_mysql_form_are_refused_by_name(change):
    with pytest.raises(TypeError, match=change.type_name):
        compiler.statements(change, MARIADB)


def test_a_user_no_secret_holds_gets_a_throwaway_password_never_an_empty_one():
    clone = c.CreateRole(action="+", name="app_clone", host="%", login=True, connection_limit=None, comment="",
                         **BASE)
    [create] = compiler.statements(clone, MYSQL8, throwaway="Thr0w-away!pw")
    assert "IDENTIFIED BY" in create.query and "Thr0w-away!pw" not in create.display
    assert inline(create.query, create.params).endswith("'Thr0w-away!pw'")
    [unknown] = compiler.statements(clone, MYSQL8)
    assert unknown.display.endswith("IDENTIFIED BY '<random password, set by the first rotation>'")


def test_authentication_changes_on_mysql_and_the_ones_no_server_can_make():
    to_iam = c.AlterRole(action="~", name="app", host="%", was=c.Authentication("password"),
                         to=c.Authentication("iam"), **BASE)
    assert render(MYSQL8, to_iam) == ["ALTER USER 'app'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"]
    to_login = c.AlterRole(action="~", name="app", host="%", was=c.Login(False), to=c.Login(True), **BASE)
    with pytest.raises(Exception, match="cannot change login of app"):
        compiler.statements(to_login, MARIADB)
