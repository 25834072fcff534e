"""MySQL/MariaDB catalog SQL: the grant tables and information_schema, read directly (no SHOW GRANTS parsing),
a constant number of queries per target. Values are bound as parameters."""

from __future__ import annotations

from provisioner.core.conventions import MARKER_DATABASE

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
_NOT_SYSTEM = "NOT IN (" + ", ".join(["%s"] * len(SYSTEM_SCHEMAS)) + ")"

Q_SERVER = "SELECT VERSION(), SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"
# MySQL has a server UUID; MariaDB has none: its host name, port and data directory tell instances apart.
Q_MYSQL_IDENTITY = "SELECT CONCAT('mysql:', @@server_uuid)"
Q_MARIADB_IDENTITY = "SELECT CONCAT('mariadb:', @@hostname, ':', @@port, ':', @@datadir)"
Q_USERS = "SELECT * FROM mysql.user"
Q_MARIADB_MARKERS = f"SELECT user, host, comment FROM `{MARKER_DATABASE}`.accounts"
Q_MYSQL_DEFAULT_ROLES = "SELECT USER, HOST, DEFAULT_ROLE_USER FROM mysql.default_roles"
Q_MARIADB_ROLE_EDGES = "SELECT User, Host, Role FROM mysql.roles_mapping"
Q_MYSQL_ROLE_EDGES = "SELECT TO_USER, TO_HOST, FROM_USER FROM mysql.role_edges"
Q_DATABASE_GRANTS = "SELECT * FROM mysql.db"
Q_TABLES = f"SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA {_NOT_SYSTEM}"
Q_TABLE_GRANTS = "SELECT Db, Table_name, User, Host, Table_priv FROM mysql.tables_priv"
Q_COLUMN_GRANTS = "SELECT Db, Table_name, Column_name, User, Host, Column_priv FROM mysql.columns_priv"
Q_ROUTINES = (f"SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
              f"WHERE ROUTINE_SCHEMA {_NOT_SYSTEM}")
Q_ROUTINE_GRANTS = "SELECT Db, Routine_name, Routine_type, User, Host, Proc_priv FROM mysql.procs_priv"
# Who may log in as whom (GRANT PROXY ON 'u'@'h' TO ...), on both servers.
Q_PROXIES = "SELECT User, Host, Proxied_user, Proxied_host FROM mysql.proxies_priv"
# MySQL 8: dynamic global privileges (BINLOG_ADMIN, ROLE_ADMIN, ...), kept apart from mysql.user's columns.
Q_MYSQL_DYNAMIC_PRIVILEGES = "SELECT USER, HOST, PRIV FROM mysql.global_grants"
Q_USER_HOSTS = "SELECT Host FROM mysql.user WHERE User = %s AND Host <> ''"

# The marker table of MariaDB (which has no account comments).
CREATE_META_DATABASE = f"CREATE DATABASE IF NOT EXISTS `{MARKER_DATABASE}`"
CREATE_META_TABLE = (f"CREATE TABLE IF NOT EXISTS `{MARKER_DATABASE}`.accounts ("
                     "user VARCHAR(128) NOT NULL, host VARCHAR(255) NOT NULL, comment TEXT NOT NULL, "
                     "PRIMARY KEY (user, host)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
UPSERT_MARKER = (f"INSERT INTO `{MARKER_DATABASE}`.accounts (user, host, comment) VALUES (%s, %s, %s) "
                 "ON DUPLICATE KEY UPDATE comment = VALUES(comment)")
DELETE_MARKER = f"DELETE FROM `{MARKER_DATABASE}`.accounts WHERE user = %s AND host = %s"

Q_GET_LOCK = "SELECT GET_LOCK(%s, %s)"
Q_RELEASE_LOCK = "SELECT RELEASE_LOCK(%s)"
