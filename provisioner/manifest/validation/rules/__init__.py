"""The semantic rules (SPEC 2 and 8), registered by name in `registry`, one module per subject: `targets`,
`principals` (names, memberships, engine-only keys, entries across the manifest), `grants`, `ownership`, `accounts`
(secrets, rotation, IAM). `run` applies each rule to its subject."""

from __future__ import annotations

from provisioner.errors import Problem
from provisioner.manifest.documents import Document
from provisioner.manifest.validation.rules import accounts, expiry, files, grants, ownership, principals, targets
from provisioner.manifest.validation.rules.registry import RULES, Known, Rule, rules_of
from provisioner.manifest.validation.words import item_label, suggest

__all__ = ["RULES", "Known", "Rule", "accounts", "expiry", "files", "grants", "ownership", "principals", "run",
           "targets"]


def run(documents: list[Document], broken_targets: set[str]) -> list[Problem]:
    """Every rule over the schema-valid parts of the documents; entries of a target the schema refused are left
    out (that target's problem is reported already)."""
    known = Known.of(documents, broken_targets)
    problems: list[Problem] = []
    for name, (doc, spec) in known.targets.items():
        facts = known.engine_of_target(name)
        problems += [p for r in rules_of("target") for p in r.check(name, doc, spec, facts, known)]
    for item in known.entries:
        engine = known.engine_of(item)
        if engine is None:
            problems.append(Problem(
                item.doc.where((*item.path, "target")),
                f"{item_label(item)} names the unknown target {item.data['target']!r}",
                f"{suggest(item.data['target'], set(known.targets))}declared targets: "
                f"{', '.join(sorted(known.targets)) or 'none'}"))
            continue
        problems += [p for r in rules_of("entry") for p in r.check(item, engine, known)]
    problems += [p for r in rules_of("manifest") for p in r.check(known)]
    return problems
