"""Rules about a manifest of several files (each team can own one): a target or profile is declared in one file,
and a default set in two files is set the same in both."""

from __future__ import annotations

from typing import Any

from provisioner.errors import Problem
from provisioner.manifest.documents import Document
from provisioner.manifest.validation.rules.registry import Known, rule


@rule("manifest", "declared-in-one-file")
def declared_once_across_files(known: Known) -> list[Problem]:
    problems: list[Problem] = []
    firsts: dict[tuple[str, ...], Document] = {}
    for doc in known.documents:
        for section, label in (("targets", "target"), ("profiles", "profile")):
            for name in doc.data.get(section) or {}:
                path = (section, name)
                if path in firsts:
                    problems.append(Problem(doc.where(path, key=True),
                                            f"{label} {name!r} is declared again (first in {firsts[path].file})",
                                            "declare it in one file only"))
                else:
                    firsts[path] = doc
    return problems


@rule("manifest", "defaults-agree-across-files")
def defaults_agree(known: Known) -> list[Problem]:
    problems: list[Problem] = []
    firsts: dict[tuple[str, ...], tuple[Document, Any]] = {}
    for doc in known.documents:
        for section, values in (doc.data.get("defaults") or {}).items():
            for key, value in values.items():
                path = ("defaults", section, key)
                if path in firsts and firsts[path][1] != value:
                    problems.append(Problem(doc.where(path, key=True),
                                            f"defaults.{section}.{key} is set differently in {firsts[path][0].file}",
                                            "set each default in one file only"))
                firsts.setdefault(path, (doc, value))
    return problems
