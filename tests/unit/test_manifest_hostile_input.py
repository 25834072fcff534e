"""Input someone wrote to break the tool (SPEC 8), refused or read exactly, without a server: YAML 1.2 core and
its tags, routine names with parentheses, grants reaching system schemas, shared secrets, setting names."""

from __future__ import annotations

import pytest

from provisioner.core import names
from provisioner.core.engine_facts import facts
from provisioner.core.secret_value import account_database, value_problem
from provisioner.errors import ValidationError
from provisioner.manifest import load_sources
from provisioner.manifest.documents import parse_text

HEADER = """version: 1
targets:
  pg: {engine: postgres, database: filmdb, admin: {url_env: X}}
  mdb: {engine: mariadb, database: billing, admin: {url_env: Y}}
"""


def problems(body: str) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_sources([("m.yaml", HEADER + body)])
    return [str(p) for p in info.value.problems]


def test_yaml_is_read_as_the_yaml_1_2_core_schema():
    doc, found = parse_text("a: 1:30\nb: yes\nc: 012\nd: 0o17\ne: 0x1F\nf: on\ng: 2024-01-01\nh: True\ni: ~\n",
                            "f.yaml")
    assert not found
    assert doc.data == {"a": "1:30", "b": "yes", "c": 12, "d": 15, "e": 31, "f": "on", "g": "2024-01-01",
                        "h": True, "i": None}


@pytest.mark.parametrize("text, where, message", [
    ("a: !!binary aGk=\n", "f.yaml:1:4", "the YAML tag !!binary is not allowed"),
    ("a: !!python/object:os.system x\n", "f.yaml:1:4", "the YAML tag !!python/object:os.system"),
    ("? !custom k\n: v\n", "f.yaml:1:3", "the YAML tag !custom"),
    ("a: 1\nb: 'x\x00'\n", "f.yaml:2:6", "U+0000 is not allowed"),
    ("a: \x07\n", "f.yaml:1:4", "U+0007 is not allowed"),
])
def test_tags_and_control_characters_are_problems_at_their_line(text, where, message):
    _, found = parse_text(text, "f.yaml")
    assert any(str(p).startswith(where) and message in str(p) for p in found), [str(p) for p in found]


def test_routine_names_with_parentheses_and_quotes_read_back_exactly():
    for written, own_name, arguments in [('public."x(y"(integer)', "x(y", "integer"),
                                         ('s."a""b"("t)", int)', 'a"b', '"t)", int'),
                                         ("s.plain( integer ,text )", "plain", "integer, text"),
                                         ("s.none()", "none", "")]:
        _, signature = names.function(written)
        assert names.split_signature(signature) == (own_name, arguments), written
        assert names.signature(own_name, arguments) == signature
    for bad in ("s.f(numeric(10,2))", 's."open(integer)', "s.f"):
        with pytest.raises(names.NameError_):
            names.function(bad)


def test_grants_reaching_system_schemas_or_the_marker_database_are_refused():
    found = "\n".join(problems("""accounts:
  - name: m1
    target: mdb
    grants:
      - {privileges: [SELECT], tables: ["pro%.*"]}
  - name: m2
    target: mdb
    grants:
      - {privileges: [SELECT], tables: ["%.*"]}
  - name: m3
    target: mdb
    grants:
      - {privileges: [SELECT], tables: ["app\\\\_%.*", "PERFORMANCE_SCHEMA.x"]}
  - name: p1
    target: pg
    grants:
      - {privileges: [SELECT], tables: [pg_catalog.pg_authid]}
      - {privileges: [USAGE], schemas: [information_schema]}
"""))
    assert "'pro%' (a pattern) reaches 'provisioner_meta'" in found
    assert "'%' (a pattern) reaches 'mysql'" in found
    assert "'PERFORMANCE_SCHEMA' (a pattern) reaches" not in found and "PERFORMANCE_SCHEMA" in found
    assert "app\\\\_" not in found
    assert "account 'p1': tables 'pg_catalog', a system schema" in found
    assert "schemas 'information_schema', a system schema" in found


def test_two_accounts_rendering_one_secret_name_are_refused():
    found = "\n".join(problems("""accounts:
  - {name: app, target: mdb, host: "10.0.%"}
  - {name: app, target: mdb, host: LocalHost}
  - {name: app, target: mdb, host: localhost}
  - {name: a, target: pg, secret: {name: same}}
  - {name: b, target: pg, secret: {name: same}}
  - {name: c, target: pg, auth: iam, secret: {name: same}}
"""))
    assert "account 'app' would share the secret 'mdb/app'" in found
    assert "account 'app' is declared twice" in found  # LocalHost is localhost
    assert "account 'b' would share the secret 'same'" in found
    assert "account 'c' would share" not in found  # IAM accounts have no secret


def test_setting_names_compare_as_the_server_compares_them():
    found = "\n".join(problems("""accounts:
  - {name: a, target: pg, settings: {Role: x}}
  - {name: b, target: pg, database_settings: {filmdb: {work_mem: 1MB, WORK_MEM: 2MB}}}
"""))
    assert "the `Role` setting is the tool's own" in found
    assert "setting 'WORK_MEM' is 'work_mem' again" in found
    manifest = load_sources([("m.yaml", HEADER + "accounts:\n  - {name: c, target: pg, settings: "
                                                   "{Statement_Timeout: 30s}}\n")])
    assert manifest.principals[0].settings == (("", "statement_timeout", "30s"),)


@pytest.mark.parametrize("value, problem", [
    ([1], "a JSON array"), ("text", "a JSON string"), ({"username": "a"}, "no password"),
    ({"username": "a", "password": 5}, "not a non-empty string"), ({"password": "p"}, "the username"),
    ({"username": "a", "password": "p"}, None),
])
def test_secret_values_that_cannot_be_credentials_say_why(value, problem):
    found = value_problem(value)
    assert (found is None) if problem is None else problem in found


def test_a_secret_names_a_database_its_account_can_use():
    manifest = load_sources([("m.yaml", HEADER + """accounts:
  - {name: here, target: mdb, grants: [{privileges: [SELECT], tables: [billing.t]}]}
  - {name: pattern, target: mdb, grants: [{privileges: [SELECT], tables: ["bill%.*"]}]}
  - {name: elsewhere, target: mdb, grants: [{privileges: [SELECT], tables: [reports.t, other.u]}]}
  - {name: only_patterns, target: mdb, grants: [{privileges: [SELECT], tables: ["rep%.*"]}]}
  - {name: roles_only, target: mdb}
  - {name: other_db, target: pg, grants: [{privileges: [CONNECT], databases: [billingdb]}]}
""")])
    found = {p.name: account_database(p, "filmdb" if p.target == "pg" else "billing",
                                      facts("postgres" if p.target == "pg" else "mariadb"))
             for p in manifest.principals}
    assert found == {"here": "billing", "pattern": "billing", "elsewhere": "reports", "only_patterns": None,
                     "roles_only": "billing", "other_db": "billingdb"}
