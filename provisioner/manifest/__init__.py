"""The manifest wing: files (or git revisions) -> a validated `Manifest`. `documents` reads YAML with positions,
`validation` finds every problem at once, `build` makes the model, `sources` reads git revisions.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from provisioner.core.model import Manifest
from provisioner.errors import Problem, ValidationError
from provisioner.manifest.build import build_manifest
from provisioner.manifest.documents import decode, manifest_files, read_documents
from provisioner.manifest.validation import validate_documents

__all__ = ["load", "load_sources", "manifest_files"]


def load(paths: Iterable[str | Path]) -> Manifest:
    """Read, validate and build the manifest from files/directories. Raises ValidationError."""
    files = manifest_files(paths)
    sources, problems = [], []
    for f in files:
        text, found = decode(f.read_bytes(), str(f))
        sources.append((str(f), text))
        problems += found
    if problems:
        raise ValidationError(problems)
    return load_sources(sources)


def load_sources(sources: Iterable[tuple[str, str]]) -> Manifest:
    """Read, validate and build the manifest from (name, text) pairs (files, git blobs, tests)."""
    documents, problems = read_documents(sources)
    # A file that does not parse is left out of the checks; every other problem of every file is reported in the
    # same run, in file and line order.
    problems += validate_documents([doc for doc in documents if doc.data is not None])
    if problems:
        raise ValidationError(sorted(problems, key=_position))
    return build_manifest(documents)


def _position(problem: Problem) -> tuple[str, int, int]:
    where = problem.location
    return (where.file, where.line, where.column) if where else ("", 0, 0)
