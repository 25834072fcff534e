"""`provisioner diff`: the intended change between git revisions or paths, with no database and no AWS."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from provisioner import cli
from provisioner.render import GITHUB_COMMENT_LIMIT

ROOT = Path(__file__).resolve().parents[2]
PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())

MANIFEST = """\
version: 1
defaults:
  rotation: {strategy: single, schedule: rate(30 days), window: 4h,
             function: "arn:aws:lambda:us-east-1:123456789012:function:db-rotation"}
targets:
  films:
    engine: postgres
    host: films.example.com
    database: filmdb
    admin: {url_env: FILMS_ADMIN_URL}
accounts:
  - name: reader_user
    target: films
    grants:
      - {privileges: [SELECT], tables: [public.films]}
"""


def run(*args: str, cwd: Path) -> tuple[int, str, str]:
    # No database and no AWS: credentials and endpoints are removed from the environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "FILMS_ADMIN_URL"}
    proc = subprocess.run([sys.executable, "-m", "provisioner", *args], cwd=cwd, capture_output=True, text=True,
                          env=env | {"AWS_EC2_METADATA_DISABLED": "true"})
    return proc.returncode, proc.stdout, proc.stderr


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Three commits: the reader; + an account and a widened grant; - that account, rotation changed."""
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "ci@example.com")
    git(tmp_path, "config", "user.name", "ci")
    manifest = tmp_path / "accounts.yaml"
    manifest.write_text(MANIFEST)
    git(tmp_path, "add", "accounts.yaml")
    git(tmp_path, "commit", "-qm", "reader")
    manifest.write_text(MANIFEST.replace("tables: [public.films]}", 'tables: ["public.*"]}') +
                        "  - name: billing_job\n    target: films\n    grants:\n"
                        "      - {privileges: [SELECT, INSERT], tables: [public.invoices]}\n")
    git(tmp_path, "commit", "-qam", "billing job, wider reader")
    manifest.write_text(MANIFEST.replace("tables: [public.films]}", 'tables: ["public.*"]}')
                        .replace("rate(30 days)", "rate(7 days)"))
    git(tmp_path, "commit", "-qam", "drop billing job, rotate weekly")
    return tmp_path


def test_add_account_and_widen_a_grant(repo):
    code, out, err = run("diff", "HEAD~2", "HEAD~1", "--detailed-exitcode", cwd=repo)
    assert code == 2, err
    assert out.startswith("Intended change between two manifests (no database or AWS was consulted")
    assert 'CREATE ROLE "billing_job" LOGIN' in out
    assert 'GRANT INSERT, SELECT ON TABLE "public"."invoices" TO "billing_job"' in out
    assert "secret films/billing_job: create" in out
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "reader_user"' in out
    assert 'ALTER DEFAULT PRIVILEGES FOR ROLE "(owner of schema public)" IN SCHEMA "public"' in out
    assert "Plan: " in out and "0 to destroy" in out


def test_remove_account_and_change_rotation_markdown(repo):
    code, out, err = run("diff", "HEAD~1", "HEAD", "--format", "markdown", "--detailed-exitcode", cwd=repo)
    assert code == 2, err
    assert "> [!WARNING]" in out and "destructive change(s)" in out
    assert 'DROP ROLE "billing_job"' in out
    assert "secret films/billing_job: schedule deletion (recovery window 7 days)" in out
    assert "ScheduleExpression=rate(7 days)" in out and "was enabled" in out
    assert "| films | postgres | 0 | 1 | " in out
    assert "<details><summary>account <code>billing_job</code>" in out


def test_default_head_is_the_working_tree_and_no_change_exits_0(repo):
    code, out, _ = run("diff", "HEAD", "--detailed-exitcode", cwd=repo)
    assert code == 0 and "Plan: 0 to add, 0 to change, 0 to destroy." in out
    (repo / "accounts.yaml").write_text(MANIFEST)
    code, out, _ = run("diff", "HEAD", "--detailed-exitcode", cwd=repo)
    assert code == 2
    assert 'REVOKE SELECT ON ALL TABLES IN SCHEMA "public" FROM "reader_user"' in out or \
        "REVOKE SELECT ON" in out


def test_rename_shows_drop_and_add_with_a_warning(repo):
    (repo / "accounts.yaml").write_text((repo / "accounts.yaml").read_text().replace("reader_user", "report_user"))
    code, out, _ = run("diff", "HEAD", cwd=repo)
    assert code == 0
    assert 'DROP ROLE "reader_user"' in out and 'CREATE ROLE "report_user"' in out
    assert "reader_user -> report_user looks like a rename" in out


def test_invalid_manifest_at_head_fails_with_the_validation_error(repo):
    (repo / "accounts.yaml").write_text(MANIFEST.replace("target: films", "target: film"))
    git(repo, "commit", "-qam", "typo")
    code, out, err = run("diff", "HEAD~1", "HEAD", cwd=repo)
    assert code == 1 and out == ""
    assert "HEAD:accounts.yaml:13:13: error: account 'reader_user' names the unknown target 'film'" in err


def test_two_paths_and_directories(tmp_path, repo):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (old / "accounts.yaml").write_text(MANIFEST)
    (new / "accounts.yaml").write_text(MANIFEST)
    (new / "team-b.yaml").write_text("version: 1\naccounts:\n  - {name: team_b, target: films}\n")
    code, out, _ = run("diff", str(old), str(new), "--detailed-exitcode", cwd=tmp_path)
    assert code == 2 and 'CREATE ROLE "team_b" LOGIN' in out
    shutil.copytree(new, repo / "manifests")
    git(repo, "add", "manifests")
    git(repo, "commit", "-qm", "directory")
    (repo / "manifests" / "team-b.yaml").unlink()
    code, out, _ = run("diff", "HEAD", "-f", "manifests", cwd=repo)
    assert code == 0 and 'DROP ROLE "team_b"' in out


def test_unknown_revision_is_a_clear_error(repo):
    code, _, err = run("diff", "no-such-branch", cwd=repo)
    assert code == 1 and "'no-such-branch' is neither a path nor a git revision" in err


def test_json_output_matches_the_published_schema(repo):
    code, out, _ = run("diff", "HEAD~2", "HEAD", "--format", "json", cwd=repo)
    assert code == 0
    document = json.loads(out)
    jsonschema.Draft202012Validator(PLAN_SCHEMA).validate(document)
    assert document["kind"] == "diff" and document["targets"][0]["catalog_queries"] is None


def test_markdown_for_a_large_change_fits_a_github_comment(tmp_path, capsys):
    def manifest(count: int) -> str:
        return MANIFEST + "".join(
            f"  - {{name: service_{i:04d}, target: films, grants: [{{privileges: [SELECT, INSERT], "
            f"tables: [public.t{i}, public.u{i}]}}]}}\n" for i in range(count))

    (tmp_path / "old.yaml").write_text(MANIFEST)
    for count, limited in ((500, False), (4000, True)):
        (tmp_path / "new.yaml").write_text(manifest(count))
        assert cli.main(["diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "--format",
                         "markdown"]) == 0
        out = capsys.readouterr().out
        assert len(out) < GITHUB_COMMENT_LIMIT
        assert "Summarised: the full plan" in out
        assert f"| films | postgres | {count * 6} | 0 | 0 |" in out
        if limited:
            assert "more account(s)/role(s) with" in out and "not listed** (comment size limit)" in out
        else:
            assert out.count("- account <code>service_") == 500


WORKFLOWS = [ROOT / "docs" / "ci" / "github-workflow.yml", ROOT / "docs" / "ci" / "github-workflow-shards.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_examples_are_valid_github_workflows(path):
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert checker, "check-jsonschema is a dev dependency"
    result = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = path.read_text()
    assert "--out" in text and "provisioner apply --yes" in text and "id-token: write" in text
    # every action pinned to a 40-character commit, the tag it was in a comment
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses and all(re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", action) and "# v" in rest for action, rest in uses), uses
    # one comment, found by its marker, updated or removed
    assert "COMMENT_MARKER" in text and "-X PATCH" in text and "-X DELETE" in text


def test_the_workflows_run_every_command_on_the_same_manifest_paths():
    for path in WORKFLOWS:
        text = path.read_text()
        commands = re.findall(r"provisioner (?:validate|diff|plan|apply)[^\n]*", text)
        assert commands and all('-f "$MANIFESTS"' in c for c in commands), commands
    assert "--shard" in WORKFLOWS[1].read_text()


def test_every_install_recipe_pins_our_distribution():
    """PyPI's `provisioner` is somebody else's project: no recipe may install by that bare name, and each install
    of ours names the distribution `dbaccounts-provisioner` at a pinned commit or an exact version."""
    recipes = [*WORKFLOWS, ROOT / "README.md"]
    for path in recipes:
        for line in path.read_text().splitlines():
            if "pip install" not in line and "pipx install" not in line:
                continue
            assert not re.search(r"install\s+[\"']?provisioner\b", line), f"{path.name}: {line.strip()}"
            if "dbaccounts-provisioner" in line:
                assert re.search(r"@(\$\{PROVISIONER_COMMIT\}|<40-character commit>|[0-9a-f]{40})\"|==\d", line), line
    workflow = (ROOT / "docs" / "ci" / "github-workflow.yml").read_text()
    assert 'pip install "dbaccounts-provisioner @ git+${PROVISIONER_REPO}@${PROVISIONER_COMMIT}"' in workflow
    assert re.search(r'PROVISIONER_COMMIT: "[0-9a-f]{40}"', workflow)
    assert (ROOT / "LICENSE").read_text().startswith("                                 Apache License")
