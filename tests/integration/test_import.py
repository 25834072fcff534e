"""`provisioner import`: manifest YAML from live accounts; import --adopt then plan shows no changes."""

from __future__ import annotations

import json

import boto3
import yaml

PG_SETUP = """
CREATE ROLE app_owner NOLOGIN;
CREATE SCHEMA app AUTHORIZATION app_owner;
SET ROLE app_owner;
CREATE TABLE app.orders (id serial PRIMARY KEY, total int);
CREATE TABLE app.items (id int, name text, secret text);
CREATE FUNCTION app.order_count(since integer) RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM app.orders';
RESET ROLE;
CREATE ROLE readers NOLOGIN;
GRANT USAGE ON SCHEMA app TO readers;
GRANT SELECT ON ALL TABLES IN SCHEMA app TO readers;
ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app GRANT SELECT ON TABLES TO readers;
CREATE ROLE "legacy app" LOGIN PASSWORD 'legacy-pass-1' CONNECTION LIMIT 7;
COMMENT ON ROLE "legacy app" IS 'the old order service';
GRANT readers TO "legacy app";
GRANT INSERT, UPDATE ON app.orders TO "legacy app";
GRANT USAGE, SELECT ON SEQUENCE app.orders_id_seq TO "legacy app";
GRANT SELECT (id, name) ON app.items TO "legacy app";
GRANT EXECUTE ON FUNCTION app.order_count(integer) TO "legacy app";
GRANT CREATE ON SCHEMA app TO "legacy app";
ALTER DEFAULT PRIVILEGES FOR ROLE "legacy app" IN SCHEMA app GRANT SELECT ON TABLES TO readers;
ALTER ROLE "legacy app" SET statement_timeout = '30s';
ALTER ROLE readers SET search_path = app, "$user", public;
"""


def targets_only(env) -> None:
    env.manifest("")


def imported_manifest(env, *extra: str) -> dict:
    result = env.cli("import", "-f", "accounts.yaml", "--target", env.target, *extra)
    (env.tmp / "manifests").mkdir(exist_ok=True)
    (env.tmp / "manifests" / "00-targets.yaml").write_text((env.tmp / "accounts.yaml").read_text())
    (env.tmp / "manifests" / "imported.yaml").write_text(result.out)
    return yaml.safe_load(result.out)


def test_postgres_import_adopt_round_trip_has_no_changes(env):
    env.sql(PG_SETUP)
    targets_only(env)
    document = imported_manifest(env, "--adopt")
    roles = {r["name"]: r for r in document["roles"]}
    accounts = {a["name"]: a for a in document["accounts"]}
    assert "app_owner" in roles and "readers" in roles
    assert roles["readers"]["grants"] == [{"privileges": ["SELECT"], "tables": ["app.*"]}]
    legacy = accounts["legacy app"]
    assert legacy["adopted"] is True and legacy["connection_limit"] == 7
    assert legacy["settings"] == {"statement_timeout": "30s"}
    assert roles["readers"]["settings"] == {"search_path": 'app, "$user", public'}
    assert legacy["description"] == "the old order service" and legacy["member_of"] == ["readers"]
    assert {"privileges": ["INSERT", "UPDATE"], "tables": ["app.orders"]} in legacy["grants"]
    assert {"privileges": ["SELECT"], "columns": {"app.items": ["id", "name"]}} in legacy["grants"]
    assert {"privileges": ["EXECUTE"], "functions": ["app.order_count(integer)"]} in legacy["grants"]
    assert {"privileges": ["CREATE"], "schemas": ["app"]} in legacy["grants"]
    assert not any("USAGE" in g["privileges"] and "schemas" in g for g in legacy["grants"])  # implied
    assert env.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'dbadmin'")  # the admin is not imported
    assert "dbadmin" not in accounts

    plan = env.cli("plan", "-f", "manifests", "--detailed-exitcode")
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in plan.out
    assert "adopted account legacy app has no secret" in plan.out
    env.cli("apply", "--yes", "-f", "manifests")  # nothing to do: the password is kept
    with env.connect_as("legacy app", "legacy-pass-1") as conn:
        conn.execute("SELECT 1")

    # asked explicitly, the adopted account gets a secret (and so a new password)
    env.cli("apply", "--yes", "-f", "manifests", "--create-secrets")
    secret = json.loads(boto3.client("secretsmanager").get_secret_value(
        SecretId=f"{env.target}/legacy-app", VersionStage="AWSCURRENT")["SecretString"])
    assert secret["username"] == "legacy app"
    with env.connect_as("legacy app", secret["password"]) as conn:
        conn.execute("SELECT 1")
    assert env.cli("plan", "-f", "manifests", "--detailed-exitcode").code == 0


def test_role_attributes_round_trip_and_are_kept(env):
    env.sql("CREATE ROLE ops_admin LOGIN SUPERUSER CREATEDB PASSWORD 'ops-pass-123'; CREATE ROLE etl NOLOGIN "
            "NOINHERIT")
    targets_only(env)
    document = imported_manifest(env, "--adopt")
    accounts = {a["name"]: a for a in document["accounts"]}
    roles = {r["name"]: r for r in document["roles"]}
    assert accounts["ops_admin"]["attributes"] == ["CREATEDB", "SUPERUSER"]
    assert roles["etl"]["attributes"] == ["NOINHERIT"]
    plan = env.cli("plan", "-f", "manifests", "--detailed-exitcode")
    assert "NOSUPERUSER" not in plan.out and "Plan: 0 to add, 0 to change, 0 to destroy." in plan.out
    # Authoritative: an attribute taken out of the file is removed, one listed is granted.
    text = (env.tmp / "manifests" / "imported.yaml").read_text()
    (env.tmp / "manifests" / "imported.yaml").write_text(
        text.replace("- CREATEDB\n", "").replace("- NOINHERIT", "- CREATEROLE"))
    env.cli("apply", "--yes", "-f", "manifests")
    assert env.sql("SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolinherit FROM pg_roles "
                   "WHERE rolname IN ('ops_admin', 'etl') ORDER BY 1") == [
        ("etl", False, False, True, True), ("ops_admin", True, False, False, True)]
    assert env.cli("plan", "-f", "manifests", "--detailed-exitcode").code == 0


def test_import_without_adopt_takes_accounts_over(env):
    env.sql(PG_SETUP)
    targets_only(env)
    result = env.cli("import", "-f", "accounts.yaml", "--target", env.target)
    assert "warning: this manifest takes over 1 live login account(s)" in result.err
    assert "import --adopt" in result.err and "warning" not in result.out
    document = imported_manifest(env)
    assert all("adopted" not in a for a in document["accounts"])
    plan = env.cli("plan", "-f", "manifests", "--detailed-exitcode", expect=2)
    assert 'secret' in plan.out and "exists without a secret: it gets a new password" in plan.out
    assert "REVOKE" not in plan.out and "GRANT" not in plan.out  # grants round-trip exactly


def test_mariadb_import_adopt_round_trip_has_no_changes(menv):
    env = menv
    db = env.database
    env.sql(f"""CREATE TABLE invoices (id INT, total INT);
CREATE TABLE customers (id INT, name VARCHAR(20), email VARCHAR(40));
CREATE ROLE auditors;
GRANT SELECT ON `{db}`.* TO auditors;
CREATE USER 'billing'@'10.0.%' IDENTIFIED BY 'billing-pass-1' WITH MAX_USER_CONNECTIONS 4;
GRANT auditors TO 'billing'@'10.0.%';
SET DEFAULT ROLE auditors FOR 'billing'@'10.0.%';
GRANT INSERT, UPDATE ON `{db}`.invoices TO 'billing'@'10.0.%';
GRANT SELECT (id, name) ON `{db}`.customers TO 'billing'@'10.0.%';
CREATE USER 'local'@'%' IDENTIFIED BY 'local-pass-1';
GRANT SELECT ON `{db}`.invoices TO 'local'@'%'""")
    env.manifest("")
    document = imported_manifest(env, "--adopt")
    accounts = {a["name"]: a for a in document["accounts"]}
    roles = {r["name"]: r for r in document["roles"]}
    assert roles["auditors"]["grants"] == [{"privileges": ["SELECT"], "tables": [f"{db}.*"]}]
    billing = accounts["billing"]
    assert billing["host"] == "10.0.%" and billing["connection_limit"] == 4 and billing["member_of"] == ["auditors"]
    assert {"privileges": ["INSERT", "UPDATE"], "tables": [f"{db}.invoices"]} in billing["grants"]
    assert {"privileges": ["SELECT"], "columns": {f"{db}.customers": ["id", "name"]}} in billing["grants"]
    assert "root" not in accounts and "dbadmin" not in accounts and "mariadb.sys" not in accounts
    plan = env.cli("plan", "-f", "manifests", "--detailed-exitcode")
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in plan.out


def test_import_bad_input(env):
    targets_only(env)
    result = env.cli("import", "-f", "accounts.yaml", "--target", "nope", expect=1)
    assert "unknown target 'nope'" in result.err
    result = env.cli("import", "-f", "accounts.yaml", expect=1)
    assert "import needs exactly one --target" in result.err


def test_import_warns_of_a_take_over_only_for_accounts_nobody_manages(env):
    """Accounts the provisioner already manages keep their passwords on the next apply: no take-over warning
    for them, only for the live login nobody manages."""
    env.sql("CREATE TABLE app_t (id int); CREATE ROLE stray LOGIN PASSWORD 'stray-pass-123'")
    env.manifest(f"""
        accounts:
          - name: managed_app
            target: {env.target}
            grants:
              - {{privileges: [SELECT], tables: [public.app_t]}}
        """)
    env.apply()
    result = env.cli("import", "-f", "accounts.yaml", "--target", env.target)
    assert "takes over 1 live login account(s)" in result.err and "stray" in result.err
    assert "managed_app" not in result.err.split("takes over")[1].split("\n")[0]
