"""What users install: the wheel holds the product and its schemas and no dev tools, installs into a clean
virtual environment as the README says, and runs as `provisioner` and `python -m provisioner`; the pre-commit
hook definition works from another repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = """\
version: 1
targets:
  films: {engine: postgres, host: films.example.com, database: filmdb, admin: {url_env: FILMS_ADMIN_URL}}
accounts:
  - name: reader_user
    target: films
    grants:
      - {privileges: [SELECT], tables: [public.films]}
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_wheel_installs_into_a_clean_venv_and_runs(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    [wheel] = dist.glob("dbaccounts_provisioner-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "provisioner/schemas/accounts.schema.json" in names and "provisioner/cli/__init__.py" in names
    assert not any(n.startswith("devtools/") or n.endswith(("sandbox.py", "demo.py")) for n in names)
    assert any(n.endswith("/licenses/LICENSE") for n in names)
    # The README's install: a virtual environment of its own, the wheel and its dependencies from the index.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True,
                   timeout=900)
    work = tmp_path / "work"
    work.mkdir()
    (work / "accounts.yaml").write_text(MANIFEST)
    clean = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    for command in ([str(bin_dir / "provisioner"), "validate"], [str(bin_dir / "python"), "-m", "provisioner",
                                                                "validate"]):
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, env=clean, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "valid (1 target(s), 1 account(s), 0 role(s))" in done.stdout
    where = subprocess.run([str(bin_dir / "python"), "-c", "import provisioner, importlib.util; "
                            "print(provisioner.__file__); print(importlib.util.find_spec('devtools'))"],
                           cwd=work, capture_output=True, text=True, env=clean, check=True)
    assert str(env_dir) in where.stdout.splitlines()[0] and where.stdout.splitlines()[1] == "None"


def test_pre_commit_hook_definition_works_with_try_repo(tmp_path):
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    assert pre_commit, "pre-commit is a dev dependency"
    work = tmp_path / "consumer"
    work.mkdir()
    git(work, "init", "-q")
    (work / "accounts.yaml").write_text(MANIFEST)
    git(work, "add", "accounts.yaml")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    ok = subprocess.run([pre_commit, "try-repo", str(ROOT), "provisioner-validate", "--all-files"], cwd=work,
                        capture_output=True, text=True, env=env, timeout=600)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "provisioner validate" in ok.stdout and "Passed" in ok.stdout
    (work / "accounts.yaml").write_text(MANIFEST.replace("target: films", "target: nope"))
    bad = subprocess.run([pre_commit, "try-repo", str(ROOT), "provisioner-validate", "--all-files"], cwd=work,
                         capture_output=True, text=True, env=env, timeout=600)
    assert bad.returncode == 1 and "unknown target 'nope'" in bad.stdout
