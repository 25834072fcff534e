"""`auth: iam` (SPEC 7): RDS IAM database authentication. PostgreSQL: the role is granted rds_iam and has no
password (a stand-in rds_iam role plays RDS here); no secret and no rotation; switching between password and
iam in the file does the right thing in one apply. A server without rds_iam is a plan error; MariaDB a
validation error."""

from __future__ import annotations

from support.recorders import sm_client
from test_import import imported_manifest

MANIFEST = """
accounts:
  - name: etl_iam
    target: {target}
    {auth}
    grants:
      - {{privileges: [SELECT], tables: ["public.*"]}}
"""


def _secret_state(env) -> str:
    client = sm_client()
    try:
        found = client.describe_secret(SecretId=f"{env.target}/etl_iam")
    except client.exceptions.ResourceNotFoundException:
        return "none"
    return "deleted" if found.get("DeletedDate") else "live"


def _has_password(env) -> bool:
    return env.sql("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'etl_iam'") == [(True,)]


def test_an_iam_account_has_rds_iam_no_password_and_no_secret_and_switches_both_ways(env):
    env.sql("CREATE TABLE public.films (id int)")
    env.manifest(MANIFEST.format(target=env.target, auth="auth: iam"))
    result = env.cli("plan", "-f", "accounts.yaml", expect=1)
    assert "`auth: iam` needs the role rds_iam" in result.text and "not RDS" in result.text
    env.sql("CREATE ROLE rds_iam NOLOGIN")  # what RDS and Aurora have
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert 'CREATE ROLE "etl_iam" LOGIN' in plan and "PASSWORD" not in plan.split("etl_iam", 1)[1].split("\n")[0]
    assert 'GRANT "rds_iam" TO "etl_iam"' in plan and "secret" not in plan
    env.apply()
    assert env.sql("SELECT pg_has_role('etl_iam', 'rds_iam', 'MEMBER')") == [(True,)]
    assert not _has_password(env) and _secret_state(env) == "none"
    assert env.sql("SELECT has_table_privilege('etl_iam', 'public.films', 'SELECT')") == [(True,)]
    env.assert_converged()
    # to a password: a secret, the password set, rds_iam revoked — in one apply
    env.manifest(MANIFEST.format(target=env.target, auth=""))
    env.apply()
    assert _has_password(env) and _secret_state(env) == "live" and env.logs_in("etl_iam")
    assert env.sql("SELECT pg_has_role('etl_iam', 'rds_iam', 'MEMBER')") == [(False,)]
    env.assert_converged()
    # and back: the password goes, the secret is scheduled for deletion
    env.manifest(MANIFEST.format(target=env.target, auth="auth: iam"))
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert 'ALTER ROLE "etl_iam" PASSWORD NULL' in plan and "schedule deletion" in plan
    env.apply()
    assert not _has_password(env) and _secret_state(env) == "deleted"
    env.assert_converged()


def test_iam_is_a_validation_error_on_mariadb_and_with_rotation(menv, env):
    menv.manifest(MANIFEST.format(target=menv.target, auth="auth: iam").replace("public.*", f"{menv.database}.*"))
    assert "MariaDB has no IAM database authentication" in menv.cli("validate", "-f", "accounts.yaml", expect=1).text
    env.manifest(MANIFEST.format(target=env.target, auth="auth: iam\n    rotation: {strategy: single}"))
    assert "uses `auth: iam`: it has no password, so no `rotation`" in env.cli(
        "validate", "-f", "accounts.yaml", expect=1).text


def test_import_writes_auth_iam_and_the_round_trip_is_empty(env):
    env.sql("CREATE ROLE rds_iam NOLOGIN; CREATE TABLE public.films (id int); CREATE ROLE etl_iam LOGIN; "
            "GRANT rds_iam TO etl_iam; GRANT SELECT ON public.films TO etl_iam")
    env.manifest("")
    document = imported_manifest(env, "--adopt")
    [account] = [a for a in document["accounts"] if a["name"] == "etl_iam"]
    assert account["auth"] == "iam" and "member_of" not in account and "rotation" not in account
    result = env.cli("plan", "-f", "manifests", "--detailed-exitcode", expect=None)
    assert result.code == 0, result.text


def test_an_iam_admin_connects_with_a_token_as_its_password_over_tls(env, aws):
    """The token comes from boto3's generate_db_auth_token (signed with the run's credentials); a local server
    cannot verify it, so the check is what the driver receives, and that no output shows it."""
    from provisioner.manifest import load_sources
    from provisioner.pipeline.connect import admin_conninfo
    from provisioner.secrets.store import SecretStore

    path = env.manifest("accounts: []", admin="{iam: {user: dbadmin}}")
    text = path.read_text()
    target = load_sources([("accounts.yaml", text)]).targets[env.target]
    info = admin_conninfo(target, SecretStore())
    assert info.user == "dbadmin" and info.tls is not None and info.tls.mode == "require"
    assert info.password.startswith(f"{env.server.host}:{env.server.port}/?Action=connect&DBUser=dbadmin&")
    assert "X-Amz-Signature=" in info.password and "X-Amz-Expires=900" in info.password
    result = env.cli("plan", "-f", "accounts.yaml", expect=1)  # the local server has no TLS: refused
    assert "X-Amz-Signature" not in result.text and info.password not in result.text
    bad = text.replace("engine: postgres", "engine: mariadb")
    (env.tmp / "accounts.yaml").write_text(bad)
    assert "MariaDB has no IAM database authentication" in env.cli("validate", "-f", "accounts.yaml", expect=1).text
