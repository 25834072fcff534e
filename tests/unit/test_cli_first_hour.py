"""The first hour of a new user, without servers: exit codes, option placement, clear errors for hostile or
broken files, derived-name collisions, JSON output of validate, and commands that used to do nothing silently."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from provisioner import cli

MANIFEST = """\
version: 1
targets:
  films: {engine: postgres, host: films.example.com, database: filmdb, admin: {url_env: FILMS_ADMIN_URL}}
accounts:
  - name: reader_user
    target: films
    grants:
      - {privileges: [SELECT], tables: [public.films]}
  - name: batch
    target: films
    rotation: {strategy: none}
"""
BOMB = "version: 1\na: &a [" + ", ".join(['"lol"'] * 9) + "]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "accounts.yaml"
    path.write_text(MANIFEST)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_usage_errors_exit_1_never_2(manifest, capsys):
    code, _, err = run(capsys, "plan", "--detailed-exitcode", "--bogus")
    assert code == 1 and "unrecognized arguments: --bogus" in err
    assert run(capsys, "frobnicate")[0] == 1


def test_common_options_before_or_after_the_command(manifest, capsys):
    before = run(capsys, "-f", str(manifest), "--format", "json", "validate")
    after = run(capsys, "validate", "-f", str(manifest), "--format", "json")
    assert before[0] == after[0] == 0 and json.loads(before[1]) == json.loads(after[1])
    assert json.loads(before[1])["accounts"] == 2


def test_validate_json_lists_every_problem_with_its_position(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(MANIFEST.replace("target: films\n    grants", "target: nope\n    grants"))
    code, out, _ = run(capsys, "validate", "-f", str(path), "--format", "json")
    document = json.loads(out)
    assert code == 1 and document["valid"] is False
    [problem] = document["problems"]
    assert (problem["file"], problem["line"]) == (str(path), 6) and "unknown target 'nope'" in problem["message"]


def test_text_only_commands_refuse_another_format(manifest, capsys):
    code, out, err = run(capsys, "rotate", "--all", "--format", "json")
    assert code == 1 and out == "" and "--format json is not available" in err


def test_alias_bomb_is_refused_fast(tmp_path, capsys):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    start = time.monotonic()
    code, _, err = run(capsys, "validate", "-f", str(path))
    assert time.monotonic() - start < 1.0
    assert code == 1 and "expands to more than" in err and f"{path}:1:1" in err


def test_deep_nesting_and_huge_files_are_refused(tmp_path, capsys):
    deep = tmp_path / "deep.yaml"
    deep.write_text("version: 1\nx: " + "[" * 100 + "]" * 100 + "\n")
    code, _, err = run(capsys, "validate", "-f", str(deep))
    assert code == 1 and "nests deeper than" in err
    huge = tmp_path / "huge.yaml"
    huge.write_text("version: 1\n" + "# padding\n" * 2_000_000)
    code, _, err = run(capsys, "validate", "-f", str(huge))
    assert code == 1 and "larger than 16 MiB" in err


def test_a_file_that_is_not_utf8_is_named_with_its_position(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MANIFEST.encode() + "    description: caf\xe9\n".encode("latin-1"))
    code, _, err = run(capsys, "validate", "-f", str(path))
    assert code == 1 and f"{path}:12:21: error: the file is not UTF-8 text (byte 0xe9)" in err
    assert "internal error" not in err


def test_names_the_tool_derives_cannot_be_declared(tmp_path, capsys):
    path = tmp_path / "accounts.yaml"
    path.write_text(MANIFEST + "  - {name: app, target: films, rotation: {strategy: alternating}}\n"
                    "  - {name: app_clone, target: films}\nroles:\n  - {name: app_group, target: films}\n")
    code, _, err = run(capsys, "validate", "-f", str(path))
    assert code == 1
    assert "account 'app_clone' has the name provisioner derives for account 'app'" in err
    assert "role 'app_group' has the name provisioner derives for account 'app'" in err


def test_silent_no_ops_are_errors(manifest, capsys):
    code, _, err = run(capsys, "rotate", "--all", "--target", "nosuch")
    assert code == 1 and "unknown target(s): nosuch" in err
    code, _, err = run(capsys, "plan", "--reset-password", "nosuch")
    assert code == 1 and "--reset-password names no account of the manifest: nosuch" in err
    code, _, err = run(capsys, "rotate", "batch")
    assert code == 1 and "rotation strategy is none for batch" in err
    assert "provisioner apply --reset-password batch" in err


def test_every_problem_of_every_file_in_one_run_in_file_and_line_order(tmp_path, capsys):
    first = tmp_path / "a.yaml"
    first.write_text("""\
version: 1
targets:
  films: {engine: postgres, database: filmdb, admin: {url_env: "postgresql://u:secret-pw@h/db"}}
accounts:
  - name: reader_user
    target: films
    target: films
  - name: postgres
    target: films
  - {name: y, target: films, grants: [{privileges: [SELEKT], tables: [public.t]}]}
""")
    broken = tmp_path / "b.yaml"
    broken.write_text("version: 1\naccounts:\n  - name: a\n    target: [films\n  - name: b\n")
    third = tmp_path / "c.yaml"
    third.write_text("version: 1\naccounts:\n  - {name: x, target: nosuch}\n")
    code, _, err = run(capsys, "validate", "-f", str(tmp_path))
    assert code == 1
    found = [line.split(": error: ")[0] for line in err.splitlines() if ": error: " in line]
    assert found == [f"{first}:3:64", f"{first}:7:5", f"{first}:8:11", f"{first}:10:53", f"{broken}:4:13",
                     f"{third}:3:23"]
    assert "names an environment variable, not the URL itself" in err and "secret-pw" not in err
    assert "while parsing a flow sequence; noticed at line 5" in err


def test_onboard_errors_cite_the_edited_file_as_such(manifest, capsys):
    lines = len(manifest.read_text().splitlines())
    code, out, err = run(capsys, "onboard", "newsvc", "--target", "films", "--grant", "SELEKT:tables=public.a")
    assert code == 1 and out == ""
    cited = next(line for line in err.splitlines() if "unknown privilege 'SELEKT'" in line)
    assert cited.startswith("accounts.yaml (after the edit):") and int(cited.split(":")[1]) > lines
    assert f"the new account 'newsvc' would be lines {lines + 1}-" in err and "accounts.yaml was not changed" in err
