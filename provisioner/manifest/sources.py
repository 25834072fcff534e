"""Where manifests come from: files on disk, or the same paths at a git revision (for `provisioner diff`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from provisioner.errors import ProvisionerError
from provisioner.manifest import manifest_files

MANIFEST_SUFFIXES = (".yaml", ".yml")


def from_disk(paths: list[str]) -> list[tuple[str, str]]:
    return [(str(f), f.read_text(encoding="utf-8")) for f in manifest_files(paths)]


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ProvisionerError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def repository_of(path: Path) -> Path:
    start = path if path.is_dir() else path.parent
    try:
        return Path(_git(start if start.exists() else Path.cwd(), "rev-parse", "--show-toplevel").strip())
    except ProvisionerError:
        raise ProvisionerError(f"{path} is not inside a git repository",
                               "pass two paths (provisioner diff OLD NEW), or run inside the repository") from None


def is_revision(repo: Path, spec: str) -> bool:
    result = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"],
                            capture_output=True, text=True)
    return result.returncode == 0


def from_revision(revision: str, paths: list[str]) -> list[tuple[str, str]]:
    """The manifest files under `paths` as they were at `revision` (missing there: no files)."""
    sources: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).resolve()
        repo = repository_of(path)
        relative = path.relative_to(repo).as_posix() if path != repo else "."
        listed = _git(repo, "ls-tree", "-r", "--name-only", revision, "--", relative).splitlines()
        for name in sorted(listed):
            inside_dir = name != relative and "/" not in name.removeprefix(relative.rstrip("/") + "/")
            if name == relative or (inside_dir and name.endswith(MANIFEST_SUFFIXES)):
                sources.append((f"{revision}:{name}", _git(repo, "show", f"{revision}:{name}")))
    return sources


def resolve(spec: str | None, paths: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """(label, sources) for a diff side: None = the working tree, an existing path, or a git revision."""
    if spec is None:
        return "working tree", from_disk(paths)
    if Path(spec).exists():
        return spec, from_disk([spec])
    repo = repository_of(Path(paths[0]).resolve())
    if not is_revision(repo, spec):
        raise ProvisionerError(f"{spec!r} is neither a path nor a git revision of {repo}",
                               "use a branch, tag or commit (e.g. origin/main, HEAD~1) or a file/directory path")
    return spec, from_revision(spec, paths)
