"""The first hour with the command line, item by item as a new user met it (issue "tried as a new user would"):
help a user can act on, "did you mean", completion, colour only on a terminal, -q, a JSON error object, the
schema command, validate's targets, every problem of an entry at once, the messages that say what to write.
No server is needed: each would have caught the friction it is named after."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner.cli import main
from provisioner.cli.commands import COMMANDS
from provisioner.cli.output import Output
from provisioner.cli.parser import build_parser
from provisioner.render.text import coloured, wants_colour

ROOT = Path(__file__).resolve().parents[2]
GOOD = "version: 1\ntargets:\n  films: {engine: postgres, database: filmdb, admin: {url_env: X}}\n"


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's --help and usage errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_each_command_has_help_with_a_description_and_an_example(command, capsys):
    code, out, _ = _run([command.name, "--help"], capsys)
    assert code == 0
    assert command.description.split(".")[0][:40] in " ".join(out.split())
    assert "examples:" in out and command.examples[0] in out


def test_every_argument_says_what_it_is_for():
    parser = build_parser()
    choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, child in choices.items():
        for action in child._actions:
            if action.help == argparse.SUPPRESS:
                continue
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help text"


def test_parallelism_only_where_targets_run_in_parallel_and_onboard_says_target_is_required(capsys):
    for command in COMMANDS:
        _, out, _ = _run([command.name, "--help"], capsys)
        assert ("--parallelism" in out) == command.parallel, command.name
    _, out, _ = _run(["onboard", "--help"], capsys)
    assert "usage: provisioner onboard NAME --target TARGET" in out


def test_a_mistyped_command_gets_did_you_mean(capsys):
    code, _, err = _run(["plna"], capsys)
    assert code == 1 and "did you mean 'plan'?" in err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_is_generated_for_each_shell(shell, capsys):
    code, out, _ = _run(["completion", shell], capsys)
    assert code == 0 and "provisioner" in out and len(out) > 200


def test_the_environment_the_tool_reads_is_in_the_help(capsys):
    _, out, _ = _run(["--help"], capsys)
    for name in ("PROVISIONER_DEBUG", "NO_COLOR", "AWS_REGION", "AWS_ENDPOINT_URL"):
        assert name in out


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert wants_colour(Terminal()) and not wants_colour(open("/dev/null", "w"))  # noqa: SIM115
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour(Terminal())
    assert "\033[" in coloured("    + GRANT SELECT ON x TO y\n")


def test_quiet_keeps_results_and_errors_and_drops_notes(capsys):
    quiet = Output("text", quiet=True)
    quiet.note("a note")
    quiet.progress("progress")
    quiet.out("the result\n")
    quiet.err("error: it failed")
    captured = capsys.readouterr()
    assert captured.out == "the result\n" and "a note" not in captured.err and "error: it failed" in captured.err


def test_a_json_run_that_fails_prints_one_error_object_on_stdout(tmp_path, capsys):
    code, out, err = _run(["plan", "--format", "json", "-f", str(tmp_path / "missing.yaml")], capsys)
    assert code == 1 and json.loads(out)["error"]["message"].startswith("manifest ")
    assert "does not exist" in err  # messages still on stderr
    (tmp_path / "bad.yaml").write_text("version: 1\naccounts:\n  - {name: a}\n")
    code, out, _ = _run(["validate", "--format", "json", "-f", str(tmp_path / "bad.yaml")], capsys)
    document = json.loads(out)
    assert code == 1 and document["valid"] is False and document["problems"][0]["line"] == 3


def test_the_schema_command_prints_or_writes_the_manifest_schema(tmp_path, capsys):
    code, out, _ = _run(["schema"], capsys)
    assert code == 0 and json.loads(out)["title"].startswith("provisioner manifest")
    code, _, _ = _run(["schema", str(tmp_path / "accounts.schema.json")], capsys)
    assert code == 0 and json.loads((tmp_path / "accounts.schema.json").read_text()) == json.loads(out)


def test_validate_with_an_unknown_target_fails_as_plan_would(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text(GOOD)
    code, _, err = _run(["validate", "-f", str(tmp_path / "a.yaml"), "--target", "nosuch"], capsys)
    assert code == 1 and "unknown target(s): nosuch" in err
    assert _run(["validate", "-f", str(tmp_path / "a.yaml"), "--target", "films"], capsys)[0] == 0


def test_every_problem_of_an_entry_the_schema_refused_is_still_reported(tmp_path, capsys):
    """Five mistakes, one run: an unknown key in an entry does not hide its other problems."""
    (tmp_path / "a.yaml").write_text(GOOD + """accounts:
  - name: app
    target: films
    colour: blue
    grants:
      - {privileges: [EXECUTE], tables: [s.t]}
  - {name: app, target: films}
  - {name: other, target: nosuch}
  - {name: third, target: films, rotation: {strategy: sometimes}}
""")
    code, _, err = _run(["validate", "-f", str(tmp_path / "a.yaml")], capsys)
    assert code == 1
    for problem in ("unknown key 'colour'", "privilege 'EXECUTE' does not apply to tables", "declared twice",
                    "unknown target 'nosuch'", "'sometimes' is not allowed"):
        assert problem in err, err
    assert "5 problems in the manifest" in err


def test_what_to_write_is_said_for_a_missing_file_and_a_missing_version(tmp_path, capsys):
    code, _, err = _run(["validate", "-f", str(tmp_path / "nowhere.yaml")], capsys)
    assert code == 1 and "manifest" in err and "does not exist" in err and "problem" not in err
    (tmp_path / "a.yaml").write_text("targets: {}\n")
    _, _, err = _run(["validate", "-f", str(tmp_path / "a.yaml")], capsys)
    assert "add `version: 1`" in err


def test_the_license_is_an_spdx_string_and_the_hook_recipe_pins_a_commit():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^license = "Apache-2.0"(\s|$)', pyproject, re.MULTILINE)  # SPDX, not the deprecated table
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "rev: <40-character commit>" in hooks and "v0.1.0" not in hooks


def test_the_console_script_answers_help_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "provisioner", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "commands:" in result.stdout and not result.stderr
