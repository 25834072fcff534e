"""Manifest documents: YAML text -> `Document` (data plus the file, line and column of every key and value), the
file list behind `-f` paths, and the merged views (defaults, targets, profiles, entries) the checks and the
builder read. Duplicate keys are problems (PyYAML would keep the last one silently).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provisioner.core.model import Location
from provisioner.errors import Problem, ProvisionerError

Path_ = tuple[Any, ...]
# libyaml's parser when PyYAML was built with it (the wheels are): same events and marks, faster (benchmarks/).
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CoreLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """YAML 1.2's core schema (SPEC 8), not PyYAML's YAML 1.1: `1:30` is text, not the sexagesimal 90; `yes`, `no`,
    `on` and `off` are text, not booleans; `012` is twelve; dates are text. Merge keys (`<<`) stay."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}


_CORE_RESOLVERS = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
)
for _tag, _pattern, _first in _CORE_RESOLVERS:
    CoreLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _core_int(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if body.startswith("0o"):
        return sign * int(body[2:], 8)
    if body.startswith("0x"):
        return sign * int(body[2:], 16)
    return sign * int(body, 10)


CoreLoader.add_constructor("tag:yaml.org,2002:int", _core_int)
LOADER = CoreLoader
# The tags a manifest may use (implicitly, or explicitly as `!!str 123`); any other (`!!binary`, `!!set`, a custom
# `!tag`) is a problem at its line, never an object of some Python type.
CORE_TAGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                       "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:map",
                       "tag:yaml.org,2002:seq"})
# Limits for files that arrive in pull requests: a manifest of thousands of accounts stays far below them, an
# alias bomb ("billion laughs") or a pathological nesting is refused before anything expands it.
MAX_BYTES = 16 * 1024 * 1024
MAX_NODES = 500_000  # values after alias expansion
MAX_DEPTH = 64
STR_TAG = "tag:yaml.org,2002:str"


@dataclass
class Document:
    """One parsed manifest file with the location of every value (by path) and every mapping key."""

    file: str
    data: Any
    values: dict[Path_, Location] = field(default_factory=dict)
    keys: dict[Path_, Location] = field(default_factory=dict)

    def where(self, path: Iterable[Any], key: bool = False) -> Location:
        """Location of a path, falling back to its nearest ancestor that has one."""
        path = tuple(path)
        table = self.keys if key else self.values
        while path:
            if path in table:
                return table[path]
            if key and path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), Location(self.file, 1, 1))


def _location(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def decode(data: bytes, file: str) -> tuple[str, list[Problem]]:
    """File bytes as text; bytes that are not UTF-8 are a problem naming the line and column."""
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return "", [Problem(Location(file, line, column), f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                            "save the manifest as UTF-8")]


def _size_problem(root: yaml.Node, file: str) -> Problem | None:
    """The size of the document once aliases are expanded, counted without expanding them (each node once)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise OverflowError("depth")
        if id(node) in sizes:
            return sizes[id(node)]
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(child, depth + 1) for child in node.value)
        sizes[id(node)] = total = min(total, MAX_NODES + 1)
        return total

    try:
        if size(root, 0) <= MAX_NODES:
            return None
        return Problem(Location(file, 1, 1), f"the document expands to more than {MAX_NODES:,} values (YAML "
                       f"aliases repeat what they point at)", "use fewer aliases: an anchor reused inside lists of "
                       "anchors grows exponentially")
    except OverflowError:
        return Problem(Location(file, 1, 1), f"the document nests deeper than {MAX_DEPTH} levels",
                       "a manifest needs a handful of levels: flatten the structure")


def _compose(text: str, file: str, problems: list[Problem]) -> tuple[Any, yaml.Node | None]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        problems.append(Problem(Location(file, 1, 1), f"the file is larger than {MAX_BYTES // 2**20} MiB",
                                "split the manifest into several files (a directory of *.yaml)"))
        return None, None
    try:
        loader = LOADER(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        problems.append(_syntax_problem(exc, file))
        return None, None
    except yaml.YAMLError as exc:  # the reader: a control character (NUL ...) or bytes that are no text
        problems.append(_reader_problem(exc, text, file))
        return None, None
    # Only anchors make a document larger than its nodes; without one, `parse_text` counts the nodes it builds.
    if root is not None and "&" in text and (problem := _size_problem(root, file)):
        problems.append(problem)
        loader.dispose()
        return None, None
    return loader, root


def _reader_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    """A character YAML does not allow in a document (a NUL, another control character), at its line."""
    position = getattr(exc, "position", 0) or 0
    before = text[:position]
    line, column = before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
    character = getattr(exc, "character", None)
    code = ord(character) if isinstance(character, str) and len(character) == 1 else character
    shown = f"U+{code:04X}" if isinstance(code, int) else "a character"
    return Problem(Location(file, line, column), f"{shown} is not allowed in a YAML document (control characters "
                   f"are not)", "remove it (a NUL often comes from a file saved as UTF-16: save as UTF-8)")


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    """Where the mistake is: the parser notices it at the next token (often the next line), while its context
    (the unclosed bracket, the key without a colon) is where it was made."""
    found, context = exc.problem_mark, exc.context_mark
    mark = context if context is not None and (found is None or context.line < found.line) else found
    where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
    noticed = f" ({exc.context}; noticed at line {found.line + 1})" if mark is context and found else ""
    return Problem(where, f"YAML syntax error: {exc.problem or exc}{noticed}", "fix the YAML syntax")


def parse_text(text: str, file: str) -> tuple[Document, list[Problem]]:
    """Parse YAML text into a Document; duplicate keys and syntax errors become problems."""
    problems: list[Problem] = []
    doc = Document(file=file, data=None)
    loader, root = _compose(text, file, problems)
    if loader is None:
        return doc, problems
    if root is None:
        loader.dispose()
        doc.data = {}
        doc.values[()] = Location(file, 1, 1)
        return doc, problems

    counted = [0]

    def build(node: yaml.Node, path: Path_) -> Any:
        counted[0] += 1
        if counted[0] > MAX_NODES or len(path) > MAX_DEPTH:
            raise OverflowError
        doc.values[path] = _location(file, node)
        if node.tag not in CORE_TAGS and node.tag != "tag:yaml.org,2002:merge":
            problems.append(_tag_problem(node, file))
            return None
        if isinstance(node, yaml.ScalarNode):
            # A plain string needs no constructor: it is the node's text (as SafeConstructor returns it).
            return node.value if node.tag == STR_TAG else loader.construct_object(node, deep=True)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            seen: dict[Any, Location] = {}
            for key_node, value_node in _flatten(node):
                if key_node.tag not in CORE_TAGS:
                    problems.append(_tag_problem(key_node, file))
                    continue
                key = key_node.value if key_node.tag == STR_TAG else loader.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    problems.append(
                        Problem(_location(file, key_node), "mapping keys must be plain scalars", "quote the key")
                    )
                    continue
                key_loc = _location(file, key_node)
                if key in seen:
                    problems.append(
                        Problem(
                            key_loc,
                            f"duplicate key {key!r} (first defined at line {seen[key].line})",
                            "remove one of the two; YAML keeps only the last, which would hide the first",
                        )
                    )
                    continue
                seen[key] = key_loc
                doc.keys[(*path, key)] = key_loc
                result[key] = build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [build(child, (*path, i)) for i, child in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    try:
        doc.data = build(root, ())
    except OverflowError:
        problems.append(_size_problem(root, file) or Problem(Location(file, 1, 1), "the document is too large"))
        doc.data = None
    finally:
        loader.dispose()
    return doc, problems


def _tag_problem(node: yaml.Node, file: str) -> Problem:
    tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
    return Problem(_location(file, node), f"the YAML tag {tag[:60]} is not allowed: a manifest is plain YAML (the "
                   f"YAML 1.2 core schema: text, numbers, booleans, null, lists and mappings)",
                   "remove the tag; write the value as text (quote it) if it is one")


def _flatten(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """Key/value pairs of a mapping with YAML merge keys (`<<: *anchor`) expanded; explicit keys win."""
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    own: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    merged.extend(_flatten(source))
        else:
            own.append((key_node, value_node))
    own_keys = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    inherited = [(k, v) for k, v in merged if not (isinstance(k, yaml.ScalarNode) and k.value in own_keys)]
    return inherited + own


def manifest_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (their *.yaml / *.yml, sorted) into a list of files."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                raise ProvisionerError(f"directory {path} holds no *.yaml manifest",
                                       "pass the directory of your manifests, or a file, with -f")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ProvisionerError(f"manifest {path} does not exist",
                                   "pass an existing file or directory with -f (default: accounts.yaml here)")
    return files


def read_documents(sources: Iterable[tuple[str, str]]) -> tuple[list[Document], list[Problem]]:
    """Parse (display name, text) pairs."""
    documents: list[Document] = []
    problems: list[Problem] = []
    for name, text in sources:
        doc, found = parse_text(text, name)
        problems.extend(found)
        documents.append(doc)
    return documents, problems


# ---------------------------------------------------------------- the entries of merged documents


@dataclass
class Item:
    """A role or account entry with the document it came from and its path there."""

    doc: Document
    path: Path_
    data: dict[str, Any]
    login: bool

    @property
    def location(self) -> Location:
        return self.doc.where(self.path)


def merged_defaults(documents: list[Document]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for doc in documents:
        for section, values in (doc.data.get("defaults") or {}).items():
            merged.setdefault(section, {}).update(values)
    return merged


def merged_targets(documents: list[Document]) -> dict[str, tuple[Document, dict[str, Any]]]:
    targets: dict[str, tuple[Document, dict[str, Any]]] = {}
    for doc in documents:
        for name, spec in (doc.data.get("targets") or {}).items():
            targets.setdefault(name, (doc, spec))
    return targets


def merged_profiles(documents: list[Document]) -> dict[str, list[dict[str, Any]]]:
    profiles: dict[str, list[dict[str, Any]]] = {}
    for doc in documents:
        for name, grants in (doc.data.get("profiles") or {}).items():
            profiles.setdefault(name, grants)
    return profiles


def items(documents: list[Document]) -> list[Item]:
    found: list[Item] = []
    for doc in documents:
        for section, login in (("roles", False), ("accounts", True)):
            for i, entry in enumerate(doc.data.get(section) or []):
                if isinstance(entry, dict):  # entries the schema refused are None in the checked copy
                    found.append(Item(doc, (section, i), entry, login))
    return found
