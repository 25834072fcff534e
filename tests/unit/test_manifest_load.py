"""Loading and validating manifests: every problem names file, line, column and a fix; nothing is touched."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from provisioner.core.kinds import ObjectKind
from provisioner.errors import ValidationError
from provisioner.manifest import load
from provisioner.manifest.validation import schema, schema_path

SEQUENCE, TABLE = ObjectKind.SEQUENCE, ObjectKind.TABLE

ROOT = Path(__file__).resolve().parents[2]

HEADER = """\
version: 1
targets:
  films:
    engine: postgres
    host: db.example.com
    database: filmdb
    admin: {url_env: FILMS_ADMIN_URL}
"""


def write(tmp_path: Path, body: str, name: str = "accounts.yaml", header: bool = True) -> Path:
    path = tmp_path / name
    path.write_text((HEADER if header else "") + textwrap.dedent(body))
    return path


def problems(tmp_path: Path, body: str, header: bool = True) -> list:
    with pytest.raises(ValidationError) as info:
        load([write(tmp_path, body, header=header)])
    return info.value.problems


def test_example_manifest_is_valid_and_builds_the_model():
    manifest = load([ROOT / "accounts.yaml"])
    names = {p.name: p for p in manifest.principals}
    assert {"reader_user", "films_app", "films_read"} <= set(names)
    reader = names["reader_user"]
    assert reader.login and reader.connection_limit == 10
    assert [(g.obj.kind, str(g.obj), sorted(g.privileges)) for g in reader.grants] == [
        (TABLE, "public.films", ["SELECT"])]
    assert not names["films_read"].login
    app = names["films_app"]
    assert any(g.obj.kind == SEQUENCE and "USAGE" in g.privileges for g in app.grants)
    assert app.member_of == ("films_read",)


def test_schema_is_valid_2020_12_and_accepts_the_example():
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"].endswith("2020-12/schema")
    data = yaml.safe_load((ROOT / "accounts.yaml").read_text())
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert "$schema=./schemas/accounts.schema.json" in (ROOT / "accounts.yaml").read_text()
    assert schema_path().name == "accounts.schema.json"


def test_duplicate_yaml_keys_are_errors_with_both_lines(tmp_path):
    found = problems(tmp_path, """\
        accounts:
          - name: a
            target: films
            name: b
        """)
    assert len(found) == 1
    assert found[0].location.line == 11 and found[0].location.column == 5
    assert "duplicate key 'name' (first defined at line 9)" in found[0].message


def test_each_semantic_error_names_file_line_column_and_a_fix(tmp_path):
    found = problems(tmp_path, """\
        roles:
          - name: readers
            target: films
        accounts:
          - name: a1
            target: film
          - name: a2
            target: films
            grants:
              - {privileges: [EXECUTE], tables: [public.films]}
          - name: rds_superuser
            target: films
          - name: a2
            target: films
          - name: a3
            target: films
            member_of: [reader]
          - name: a4
            target: films
            grants:
              - {privileges: [SELEKT], tables: [public.films]}
        """)
    by_line = {p.location.line: p for p in found}
    path = str(tmp_path / "accounts.yaml")
    assert all(p.location.file == path for p in found)
    assert "unknown target 'film'" in by_line[13].message and "did you mean 'films'" in by_line[13].hint
    assert "'EXECUTE' does not apply to tables" in by_line[17].message and "SELECT" in by_line[17].hint
    assert by_line[17].location.column > 1
    assert "system or reserved" in by_line[18].message
    assert "declared twice" in by_line[20].message and "accounts.yaml:14:5" in by_line[20].message
    assert "'reader', which is not a role" in by_line[24].message and "did you mean 'readers'" in by_line[24].hint
    assert "unknown privilege 'SELEKT'" in by_line[28].message and "did you mean 'SELECT'" in by_line[28].hint
    assert len(found) == 6
    text = str(ValidationError(found))
    assert f"{path}:13:" in text and "hint:" in text


def test_literal_password_is_refused_anywhere(tmp_path):
    found = problems(tmp_path, """\
        accounts:
          - name: a1
            target: films
            password: hunter2hunter2
        """)
    assert len(found) == 1
    assert found[0].location.line == 11
    assert "literal password" in found[0].message
    assert "hunter2hunter2" not in str(ValidationError(found))


def test_unknown_keys_get_a_suggestion_and_the_allowed_keys(tmp_path):
    found = problems(tmp_path, """\
        accounts:
          - name: a1
            target: films
            grnats: []
        """)
    assert "unknown key 'grnats'" in found[0].message
    assert "did you mean 'grants'" in found[0].hint and "member_of" in found[0].hint
    assert (found[0].location.line, found[0].location.column) == (11, 5)


def test_grant_must_name_exactly_one_object_kind(tmp_path):
    found = problems(tmp_path, """\
        accounts:
          - name: a1
            target: films
            grants:
              - {privileges: [SELECT], tables: [public.a], sequences: [public.s]}
        """)
    assert "exactly one kind of object" in found[0].message


def test_badly_formed_object_names(tmp_path):
    found = problems(tmp_path, """\
        accounts:
          - name: a1
            target: films
            grants:
              - {privileges: [SELECT], tables: [films]}
              - {privileges: [EXECUTE], functions: [public.report]}
        """)
    assert len(found) == 2
    assert "schema.name" in found[0].message
    assert "argument types" in found[1].message


def test_several_files_and_directories_merge(tmp_path):
    (tmp_path / "teams").mkdir()
    write(tmp_path, "", name="teams/00-targets.yaml")
    write(tmp_path, """\
        version: 1
        accounts:
          - {name: app_one, target: films, grants: [{privileges: [SELECT], tables: [public.t]}]}
        """, name="teams/one.yaml", header=False)
    write(tmp_path, """\
        version: 1
        accounts:
          - {name: app_two, target: films}
        """, name="teams/two.yml", header=False)
    manifest = load([tmp_path / "teams"])
    assert sorted(p.name for p in manifest.principals) == ["app_one", "app_two"]
    assert len(manifest.files) == 3


def test_duplicate_account_across_files(tmp_path):
    one = write(tmp_path, "accounts:\n  - {name: a1, target: films}\n", name="one.yaml")
    two = write(tmp_path, "version: 1\naccounts:\n  - {name: a1, target: films}\n", name="two.yaml", header=False)
    with pytest.raises(ValidationError) as info:
        load([one, two])
    [problem] = info.value.problems
    assert problem.location.file == str(two) and "declared twice" in problem.message and str(one) in problem.message


def test_yaml_merge_keys_are_supported(tmp_path):
    path = write(tmp_path, """\
        accounts:
          - &first {name: a1, target: films, grants: [{privileges: [SELECT], tables: [public.t]}]}
          - {<<: *first, name: a2, connection_limit: 3}
        """)
    principals = {p.name: p for p in load([path]).principals}
    assert principals["a2"].connection_limit == 3
    assert [g.obj for g in principals["a2"].grants] == [g.obj for g in principals["a1"].grants]


def test_syntax_error_points_at_the_line(tmp_path):
    found = problems(tmp_path, "accounts:\n  - name: [unclosed\n")
    assert found[0].location.line >= 9 and "YAML syntax error" in found[0].message


def test_validate_cli_needs_no_credentials(tmp_path, monkeypatch, capsys):
    from provisioner import cli

    for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "FILMS_ADMIN_URL"):
        monkeypatch.delenv(var, raising=False)
    assert cli.main(["validate", "-f", str(ROOT / "accounts.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    bad = write(tmp_path, "accounts:\n  - {name: a, target: nowhere}\n")
    assert cli.main(["validate", "-f", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:9:23:" in err and "unknown target 'nowhere'" in err


def test_json_schema_is_the_one_shipped(tmp_path):
    # Editors load the schema from the file: it must be plain JSON with an $id.
    data = json.loads((ROOT / "schemas" / "accounts.schema.json").read_text())
    assert data["$id"] and data["type"] == "object"
