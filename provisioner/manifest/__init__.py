"""The manifest wing: files (or git revisions) -> a validated `Manifest`. `documents` reads YAML with positions,
`validate` finds every problem at once, `build` makes the model, `sources` reads git revisions.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from provisioner.core.model import Manifest
from provisioner.errors import ValidationError
from provisioner.manifest.build import build_manifest
from provisioner.manifest.documents import decode, manifest_files, read_documents
from provisioner.manifest.validate import validate_documents

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
    if problems:
        raise ValidationError(problems)
    problems = validate_documents(documents)
    if problems:
        raise ValidationError(problems)
    return build_manifest(documents)
