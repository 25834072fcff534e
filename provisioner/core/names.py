"""Parsing of object names written in the manifest (`schema.table`, `"Odd.Schema".t`, `f(integer)`, `db.*`).

Names are split here, once, into their parts; quoting for SQL is the engines' job (via the drivers' own
identifier quoting), never done by pasting strings.
"""

from __future__ import annotations

import re
from functools import cache


class NameError_(ValueError):
    """A manifest object name that cannot be parsed."""


def split_dotted(text: str) -> list[str]:
    """Split `a.b` into parts; double-quoted parts may contain dots and "" for a quote."""
    parts: list[str] = []
    i = 0
    n = len(text)
    while i <= n:
        if i < n and text[i] == '"':
            j = i + 1
            buf = []
            while True:
                if j >= n:
                    raise NameError_(f"unterminated quoted name in {text!r}")
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        buf.append('"')
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            j = text.find(".", i)
            if j == -1:
                j = n
            parts.append(text[i:j])
            i = j
        if i < n:
            if text[i] != ".":
                raise NameError_(f"unexpected character after quoted name in {text!r}")
            i += 1
            if i == n:
                raise NameError_(f"{text!r} ends with a dot")
        else:
            break
    if any(p == "" for p in parts):
        raise NameError_(f"{text!r} has an empty name part")
    return parts


@cache  # a manifest names the same objects again and again (and validation parses what the builder parses)
def qualified(text: str, what: str) -> tuple[str, str]:
    """`schema.object` (or `database.table`) -> (schema, object)."""
    parts = split_dotted(text)
    if len(parts) != 2:
        raise NameError_(f"{what} {text!r} must be written as schema.name (or schema.* for all)")
    return parts[0], parts[1]


@cache
def function(text: str) -> tuple[str, str]:
    """`schema.fn(integer, text)` -> (schema, 'fn(integer, text)'); `schema.*` -> (schema, '*'). The schema and the
    function may be double-quoted (`public."x(y"(integer)`): the name ends at the first parenthesis outside
    quotes, and the argument list at the last character."""
    text = text.strip()
    if text.endswith(".*"):
        return qualified(text, "function")
    opening = _unquoted_index(text, "(")
    if opening is None or not text.endswith(")"):
        raise NameError_(
            f"function {text!r} must be written as schema.name(argument types), e.g. public.report(integer)"
        )
    schema, name = qualified(text[:opening].rstrip(), "function")
    args = text[opening + 1:-1]
    if _unquoted_index(args, "(") is not None or _unquoted_index(args, ")") is not None:
        raise NameError_(f"function {text!r}: write argument types without modifiers, e.g. (character varying, "
                         f"numeric)")
    return schema, signature(name, args)


def _unquoted_index(text: str, wanted: str) -> int | None:
    """The index of the first `wanted` outside double quotes ("" inside quotes is a quote); None if absent.
    NameError_ when a quote is left open."""
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == wanted and not quoted:
            return i
    if quoted:
        raise NameError_(f"unterminated quoted name in {text!r}")
    return None


def split_arguments(args: str) -> list[str]:
    """An argument type list split at the commas outside double quotes, each type's spaces normalised."""
    parts: list[str] = []
    rest = args
    while rest.strip():
        comma = _unquoted_index(rest, ",")
        part, rest = (rest, "") if comma is None else (rest[:comma], rest[comma + 1:])
        parts.append(" ".join(part.split()) if '"' not in part else part.strip())
        if comma is not None and not rest.strip():
            parts.append("")
    return parts


def quote_routine(name: str) -> str:
    """A routine's name as it stands in a signature: double-quoted when it holds a parenthesis or a quote (so
    that the signature reads back unambiguously), as it is otherwise."""
    return '"' + name.replace('"', '""') + '"' if any(ch in name for ch in '()"') or not name else name


def routine(text: str) -> tuple[str, str]:
    """MySQL/MariaDB: `db.routine` (an empty `()` is accepted) or `db.*` -> (db, routine)."""
    text = text.strip()
    if text.endswith("()"):
        text = text[:-2]
    if "(" in text:
        raise NameError_(f"routine {text!r}: MySQL grants name routines without argument types (db.name)")
    return qualified(text, "routine")


def signature(name: str, args: str) -> str:
    """Canonical function signature text: name(type, type) with single spaces, the name quoted when it must be
    (see `quote_routine`). `name` is the routine's own name, as the catalog has it."""
    return f"{quote_routine(name)}({', '.join(split_arguments(args))})"


def split_signature(text: str) -> tuple[str, str]:
    """A canonical signature -> (the routine's own name, the argument list): 'fn(integer, text)' -> ('fn',
    'integer, text'); '"x(y"(integer)' -> ('x(y', 'integer')."""
    if text.startswith('"'):
        i = 1
        while i < len(text):
            if text[i] == '"':
                if text[i + 1:i + 2] == '"':
                    i += 2
                    continue
                break
            i += 1
        name, rest = text[1:i].replace('""', '"'), text[i + 1:]
    else:
        name, _, rest = text.partition("(")
        rest = "(" + rest
    return name, rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest


@cache
def _like(pattern: str) -> re.Pattern[str]:
    """A MySQL database-name pattern (`%`, `_`, `\\` escapes) as a regular expression."""
    out, escaped = [], False
    for ch in pattern:
        if escaped:
            out.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL | re.IGNORECASE)


def mysql_pattern_matches(pattern: str, name: str) -> bool:
    """Whether a MySQL/MariaDB database-level grant's pattern reaches the database `name` (case-insensitively:
    the safe side for servers with lower_case_table_names)."""
    return _like(pattern).match(name) is not None
