"""Role settings (SPEC 7): `settings:` and `database_settings:` are authoritative on PostgreSQL — set, changed and
reset in one apply each, read back from the server's own catalog (pg_db_role_setting) and felt by a real login;
MySQL/MariaDB entries get a validation error."""

from __future__ import annotations

import psycopg

MANIFEST = """
accounts:
  - name: svc_settings
    target: {target}
    grants:
      - {{privileges: [CONNECT], databases: [{db}]}}
    settings: {settings}
    database_settings: {per_database}
"""


def _stored(env) -> set[tuple[str, str]]:
    rows = env.sql("SELECT coalesce(d.datname, ''), c FROM pg_db_role_setting s "
                   "JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase, "
                   "unnest(s.setconfig) c WHERE r.rolname = 'svc_settings'")
    return {(str(db), str(c)) for db, c in rows}


def _session_value(env, parameter: str) -> str:
    secret = env.secret("svc_settings")
    with psycopg.connect(host=env.server.host, port=env.server.port, user=secret["username"],
                         password=secret["password"], dbname=env.database) as conn:
        return str(conn.execute(f"SHOW {parameter}").fetchone()[0])


def test_settings_are_set_changed_and_reset_and_a_login_sees_them(env):
    env.sql("CREATE SCHEMA app")
    env.manifest(MANIFEST.format(target=env.target, db=env.database,
                                 settings='{statement_timeout: 30s, search_path: "app, public", jit: false}',
                                 per_database=f"{{{env.database}: {{work_mem: 64MB}}}}"))
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert """ALTER ROLE "svc_settings" SET "search_path" = 'app', 'public'""" in plan
    env.apply()
    assert _stored(env) == {("", "statement_timeout=30s"), ("", "search_path=app, public"), ("", "jit=off"),
                            (env.database, "work_mem=64MB")}
    assert _session_value(env, "statement_timeout") == "30s"
    assert _session_value(env, "search_path") == "app, public"
    assert _session_value(env, "work_mem") == "64MB"
    env.assert_converged()
    # changed, one reset, one added; the per-database setting goes
    env.sql("ALTER ROLE svc_settings SET lock_timeout = '5s'")  # out of band: reset too
    env.manifest(MANIFEST.format(target=env.target, db=env.database,
                                 settings='{statement_timeout: 45s, search_path: "app, public"}', per_database="{}"))
    env.apply()
    assert _stored(env) == {("", "statement_timeout=45s"), ("", "search_path=app, public")}
    assert _session_value(env, "work_mem") == "4MB"
    env.assert_converged()


def test_settings_are_refused_on_mariadb_and_the_session_role_is_reserved(menv, env):
    menv.manifest(MANIFEST.format(target=menv.target, db=menv.database, settings="{sql_mode: ANSI}",
                                  per_database="{}").replace("databases", "tables").replace(
        f"[{menv.database}]", f'["{menv.database}.*"]').replace("CONNECT", "SELECT"))
    result = menv.cli("validate", "-f", "accounts.yaml", expect=1)
    assert "`settings` are PostgreSQL role settings" in result.text
    env.manifest(MANIFEST.format(target=env.target, db=env.database, settings="{role: other}", per_database="{}"))
    result = env.cli("validate", "-f", "accounts.yaml", expect=1)
    assert "the `role` setting is the tool's own" in result.text


MEMBERSHIPS = """
roles:
  - name: films_read
    target: {target}
  - name: films_owner
    target: {target}
accounts:
  - name: svc_member
    target: {target}
    member_of:
      - films_read
      - {{role: films_owner, admin: {admin}{newer}}}
"""


def _options(env) -> dict[str, tuple]:
    rows = env.sql("SELECT m.roleid::regrole::text, m.admin_option, to_jsonb(m) ->> 'inherit_option', "
                   "to_jsonb(m) ->> 'set_option' FROM pg_auth_members m WHERE m.member = 'svc_member'::regrole")
    return {str(r): (a, i, s) for r, a, i, s in rows}


def test_membership_options_on_postgres_16_and_later_and_a_clear_error_before(env):
    major = int(env.sql("SHOW server_version_num")[0][0]) // 10000
    env.manifest(MEMBERSHIPS.format(target=env.target, admin="true", newer=""))
    env.apply()  # admin exists on every version
    assert _options(env)["films_owner"][0] is True and _options(env)["films_read"][0] is False
    env.sql("GRANT films_read TO svc_member WITH ADMIN OPTION")  # out of band: taken back
    env.apply()
    assert _options(env)["films_read"][0] is False
    env.assert_converged()
    env.manifest(MEMBERSHIPS.format(target=env.target, admin="false", newer=", inherit: false, set: true"))
    if major < 16:
        result = env.cli("plan", "-f", "accounts.yaml", expect=1)
        assert "membership option(s) inherit, set of films_owner need PostgreSQL 16" in result.text
        assert f"runs {major}." in result.text
        return
    plan = env.cli("plan", "-f", "accounts.yaml").out
    assert 'REVOKE ADMIN OPTION FOR "films_owner" FROM "svc_member"' in plan
    assert 'GRANT "films_owner" TO "svc_member" WITH INHERIT FALSE' in plan  # SET is TRUE already
    env.apply()
    assert _options(env)["films_owner"] == (False, "false", "true")
    env.assert_converged()
    # the server agrees: no inherited privileges, SET ROLE still allowed
    assert env.sql("SELECT pg_has_role('svc_member', 'films_owner', 'USAGE'), "
                   "pg_has_role('svc_member', 'films_owner', 'SET')") == [(False, True)]
    # import writes the options back: the round trip is empty
    imported = env.cli("import", "--target", env.target, "-f", "accounts.yaml").out
    assert "inherit: false" in imported
