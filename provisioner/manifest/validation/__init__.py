"""Validation: every problem of every manifest document in one run, each with file, line, column and a fix
(SPEC 2 and 8). Touches nothing, needs no credentials, and runs over the parsed documents (not the built model) so
that every finding points at the exact key or value in its file.

One module per job: `schema` (the JSON Schema check and the wording of its errors), `secrets_scan` (literal
passwords and URLs), `pruning` (the parts the schema refused, left out of the rules — as little as possible),
`rules/` (the semantic rules, registered by name and subject), `words` (how messages speak).
"""

from __future__ import annotations

from provisioner.errors import Problem
from provisioner.manifest.documents import Document
from provisioner.manifest.validation import rules
from provisioner.manifest.validation.pruning import without_refused
from provisioner.manifest.validation.schema import schema, schema_errors, schema_path, schema_problem, schema_problems
from provisioner.manifest.validation.secrets_scan import literal_password_problems

__all__ = ["schema", "schema_path", "validate_documents"]


def validate_documents(documents: list[Document]) -> list[Problem]:
    """Every problem of every document in one pass: literal passwords, the schema, and the semantic rules on
    every part the schema accepted."""
    problems: list[Problem] = []
    checked: list[Document] = []
    broken_targets: set[str] = set()
    for doc in documents:
        if not isinstance(doc.data, dict):
            problems += literal_password_problems(doc) + schema_problems(doc)
            continue
        found = literal_password_problems(doc)
        lines = {(f.location.file, f.location.line) for f in found if f.location}
        errors = schema_errors(doc)
        worded = [schema_problem(doc, e) for e in errors]
        # A literal password is reported once, as such, not again as a key the schema does not know.
        problems += found + [p for p in worded if not (p.location and (p.location.file, p.location.line) in lines)]
        clean, broken = without_refused(doc, errors)
        checked.append(clean)
        broken_targets |= broken
    return problems + rules.run(checked, broken_targets)
