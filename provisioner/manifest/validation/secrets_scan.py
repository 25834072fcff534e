"""The literal-secret scan: a `password` key holding a value, or a connection URL with credentials, anywhere in a
document is a problem (SPEC 2: never a literal password in the file)."""

from __future__ import annotations

from typing import Any

from provisioner.errors import Problem
from provisioner.manifest.documents import Document
from provisioner.manifest.validation.words import dotted

SECRET_KEYS = ("password", "passwd", "pwd")


def literal_password_problems(doc: Document) -> list[Problem]:
    """A `password` key holding a value (not the password policy mapping) anywhere in the file."""
    problems: list[Problem] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                problem = _literal(doc, (*path, key), key, child)
                if problem:
                    problems.append(problem)
                else:
                    walk(child, (*path, key))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, (*path, i))

    walk(doc.data, ())
    return problems


def _literal(doc: Document, path: tuple[Any, ...], key: Any, value: Any) -> Problem | None:
    lowered = str(key).lower()
    if lowered in SECRET_KEYS and not isinstance(value, dict):
        return Problem(doc.where(path, key=True),
                       f"{dotted(path)}: a literal password is never allowed in the manifest",
                       "remove it: passwords are generated and kept in Secrets Manager; for the admin use "
                       "`admin: {secret: ...}` or `admin: {url_env: ENV_VAR}`")
    if lowered == "url" and isinstance(value, str) and "@" in value:
        return Problem(doc.where(path, key=True),
                       f"{dotted(path)}: a connection URL may hold a password and is not allowed here",
                       "put the URL in an environment variable and write `url_env: THAT_VARIABLE`")
    return None
