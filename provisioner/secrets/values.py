"""A secret's value as the tool reads it: a mapping, and why it cannot serve as credentials — whatever a value
writer put there (not JSON, an array, a number for a password) is an answer, never an exception. Passwords found
are registered for redaction."""

from __future__ import annotations

import json
from typing import Any

from provisioner import redact
from provisioner.core.secret_value import value_problem


def read_value(text: str | None) -> tuple[dict[str, Any], str | None]:
    """A secret's value as a mapping, and why it cannot serve as credentials (None when it can). Whatever a
    value writer put there — not JSON, an array, a number for a password — is an answer, never an exception."""
    if not text:
        return {}, "the secret has no value"
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return {}, "the value is not JSON"
    problem = value_problem(value)
    if not isinstance(value, dict):
        return {}, problem
    password = value.get("password")
    if isinstance(password, str):
        redact.register(password)
    return value, problem


def parse_value(text: str | None) -> dict[str, Any]:
    """A secret's value as a mapping (empty when it is none)."""
    return read_value(text)[0]
