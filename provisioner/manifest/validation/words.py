"""How validation messages speak: "did you mean", values cut to a readable length, paths as `accounts[2].grants`,
entries as `account 'name'`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from provisioner.manifest.documents import Item

SHOWN = 60  # characters of a refused value a message repeats (a 5 MB description is not echoed)


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def shown(value: Any) -> str:
    """A value for a message: its repr, cut to SHOWN characters with the full length said."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text):,} characters)"


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number",
            bool: "a boolean", type(None): "empty (null)"}.get(type(value), type(value).__name__)


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


def item_label(item: Item) -> str:
    kind = "account" if item.login else "role"
    return f"{kind} {item.data.get('name')!r}"
