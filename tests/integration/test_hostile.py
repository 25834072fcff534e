"""Hostile input, generated with hypothesis: every manifest either gets a clear validation error or a plan whose
SQL, applied to a real server, does exactly what the manifest says (no injection); no traceback reaches the
user. CI runs the `ci` profile (over 2,000 cases); `make fuzz` runs the `fuzz` profile."""

from __future__ import annotations

import contextlib
import io
import os
import string

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from provisioner import cli
from provisioner.core.model import Manifest
from provisioner.errors import ValidationError
from provisioner.manifest import load_sources
from provisioner.pipeline.offline import offline_plan

settings.register_profile("ci", max_examples=2200, deadline=None)
settings.register_profile("fuzz", max_examples=30000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
DB_EXAMPLES = {"ci": 40, "fuzz": 400}[os.environ.get("HYPOTHESIS_PROFILE", "ci")]
COUNTS = {"manifests": 0, "valid": 0, "invalid": 0, "applied": 0}

NASTY = ["'", '"', "`", ";", "--", "\\", " ", "/*", "*/", "ü", "名前", "🔑", "%", "_", "$", "\t", "DROP ROLE x;"]
names = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=80),
    st.lists(st.sampled_from(NASTY + list(string.ascii_letters)), min_size=1, max_size=12).map("".join),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), names)
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(names, inner, max_size=4)), max_leaves=12)
privilege = st.sampled_from(["SELECT", "INSERT", "usage", "EXECUTE", "ALL", "CONNECT", "SELEKT", "DROP; --"])
objects = st.lists(st.one_of(names, names.map(lambda n: f"public.{n}"), st.just("public.*")), min_size=0, max_size=3)
grant = st.fixed_dictionaries({"privileges": st.lists(privilege, max_size=3)},
                              optional={"tables": objects, "schemas": objects, "functions": objects,
                                        "sequences": objects, "columns": st.dictionaries(names, objects, max_size=2),
                                        "nonsense": anything})
account = st.fixed_dictionaries(
    {"name": st.one_of(names, anything), "target": st.sampled_from(["films", "nowhere", 3])},
    optional={"grants": st.one_of(st.lists(grant, max_size=3), anything), "member_of": st.lists(names, max_size=2),
              "connection_limit": st.one_of(st.integers(-3, 10), names), "host": names,
              "password": names, "rotation": st.one_of(anything, st.fixed_dictionaries(
                  {"strategy": st.sampled_from(["single", "alternating", "none", "weird"]),
                   "schedule": st.one_of(names, st.sampled_from(["rate(2 hours)", "rate(30 days)",
                                                                 "cron(0 4 * * ? *)", "cron(5 * * * ? *)"]))}))})
manifests = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, 1, 2, "1"])},
    optional={"targets": st.one_of(anything, st.just({"films": {"engine": "postgres", "database": "filmdb",
                                                                "host": "h", "admin": {"url_env": "X"}}})),
              "accounts": st.one_of(st.lists(account, max_size=4), anything),
              "roles": st.one_of(st.lists(account, max_size=2), anything), "extra": anything})


@given(manifests)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_any_manifest_is_either_valid_or_a_clear_validation_error(document):
    text = yaml.safe_dump(document, allow_unicode=True)
    COUNTS["manifests"] += 1
    try:
        manifest = load_sources([("fuzz.yaml", text)])
    except ValidationError as exc:
        COUNTS["invalid"] += 1
        assert exc.problems and all(p.message for p in exc.problems)
        assert all(p.location is None or p.location.file == "fuzz.yaml" for p in exc.problems)
        return
    COUNTS["valid"] += 1
    plan = offline_plan(Manifest({}, ()), manifest)  # renders every statement the manifest implies
    for target in plan.targets:
        for step in target.steps:
            assert all(isinstance(line, str) for line in step.lines)


@given(manifests)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_the_command_line_never_shows_a_traceback(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("fuzz") / "accounts.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["validate", "-f", str(path)])
        code_diff = cli.main(["diff", str(path), str(path)])
    assert code in (0, 1) and code_diff in (0, 1)
    assert "Traceback" not in out.getvalue() + err.getvalue()


hostile_names = st.lists(st.sampled_from(NASTY + list("abcXYZ09")), min_size=1, max_size=10).map("".join).filter(
    lambda n: n.strip() == n and "\t" not in n)


def _hostile_accounts(env, role: str, table: str, index: int) -> str:
    qualified = ("public" if env.engine == "postgres" else env.database) + "." + \
        '"' + table.replace('"', '""') + '"'
    return yaml.safe_dump({"accounts": [{
        "name": role, "target": env.target, "secret": {"name": f"{env.target}/fuzz-{index}"},
        "grants": [{"privileges": ["SELECT"], "tables": [qualified]}]}]}, allow_unicode=True)


def _check_hostile(env, role: str, table: str) -> None:
    index = COUNTS["applied"] + COUNTS["manifests"]
    if env.engine == "postgres":
        from psycopg import sql

        with contextlib.suppress(Exception):
            env.sql(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier("public", table)).as_string(None))
    else:
        with contextlib.suppress(Exception):
            env.sql("CREATE TABLE `" + table.replace("`", "``") + "` (id int)")
    env.manifest(_hostile_accounts(env, role, table, index))
    result = env.cli("plan", "-f", "accounts.yaml", expect=None)
    if result.code != 0:
        assert "Traceback" not in result.text
        assert "error" in result.text  # a clear validation or plan error (e.g. a name the server would truncate)
        return
    env.apply()
    COUNTS["applied"] += 1
    if env.engine == "postgres":
        assert env.sql("SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,)) == [(1,)]
        assert env.sql("SELECT has_table_privilege(%s, format('%%I.%%I', 'public', %s::text), 'SELECT'), "
                       "has_table_privilege(%s, format('%%I.%%I', 'public', %s::text), 'INSERT')",
                       (role, table, role, table)) == [(True, False)]
        assert env.sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'dbadmin'") == [(True,)]
        # only the admin and this role: the previous example's role left the manifest and was dropped
        assert {r for (r,) in env.sql("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'")} == {"dbadmin", role}
    else:
        assert env.sql("SELECT count(*) FROM mysql.user WHERE User = %s COLLATE utf8mb4_bin AND Host = '%%'",
                       (role,)) == [(1,)]
        assert env.sql("SELECT Table_priv FROM mysql.tables_priv WHERE User = %s COLLATE utf8mb4_bin "
                       "AND Table_name = %s COLLATE utf8mb4_bin", (role, table)) == [("Select",)]
        users = {u for (u,) in env.sql("SELECT User FROM mysql.user")}
        assert users == {"dbadmin", "root", "mariadb.sys", role}
    env.assert_converged()


@given(role=hostile_names, table=hostile_names)
@settings(max_examples=DB_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                           HealthCheck.too_slow])
def test_hostile_names_do_exactly_what_the_manifest_says_on_postgres(env, role, table):
    assume(len(role.encode()) <= 63 and len(table.encode()) <= 63 and role.lower() not in ("public", "none"))
    assume(not env.role_exists(role))
    _check_hostile(env, role, table)


@given(role=hostile_names, table=hostile_names)
@settings(max_examples=DB_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                           HealthCheck.too_slow])
def test_hostile_names_do_exactly_what_the_manifest_says_on_mariadb(menv, role, table):
    assume(len(role) <= 80 and len(table) <= 64 and not table.endswith(" ") and role.lower() not in ("root",))
    assume(not menv.role_exists(role))
    _check_hostile(menv, role, table)


def test_report_fuzz_counts(capsys):
    with capsys.disabled():
        print(f"\nhostile input: {COUNTS['manifests']} generated manifests ({COUNTS['valid']} valid, "
              f"{COUNTS['invalid']} clear validation errors), {COUNTS['applied']} hostile-name manifests applied "
              f"to real servers")
    assert COUNTS["manifests"] >= 2000 or os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
