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


_FUNCTION = re.compile(r"^(?P<name>.+?)\s*\((?P<args>[^()]*)\)\s*$")


@cache
def function(text: str) -> tuple[str, str]:
    """`schema.fn(integer, text)` -> (schema, 'fn(integer, text)'); `schema.*` -> (schema, '*')."""
    if text.endswith(".*"):
        return qualified(text, "function")
    match = _FUNCTION.match(text)
    if not match:
        raise NameError_(
            f"function {text!r} must be written as schema.name(argument types), e.g. public.report(integer)"
        )
    schema, name = qualified(match.group("name"), "function")
    return schema, signature(name, match.group("args"))


def routine(text: str) -> tuple[str, str]:
    """MySQL/MariaDB: `db.routine` (an empty `()` is accepted) or `db.*` -> (db, routine)."""
    text = text.strip()
    if text.endswith("()"):
        text = text[:-2]
    if "(" in text:
        raise NameError_(f"routine {text!r}: MySQL grants name routines without argument types (db.name)")
    return qualified(text, "routine")


def signature(name: str, args: str) -> str:
    """Canonical function signature text: name(type, type) with single spaces."""
    arg_list = [" ".join(a.split()) for a in args.split(",")] if args.strip() else []
    return f"{name}({', '.join(arg_list)})"


def split_signature(text: str) -> tuple[str, str]:
    """'fn(integer, text)' -> ('fn', 'integer, text')."""
    name, _, rest = text.partition("(")
    return name, rest[:-1]
