"""Load: manifest files -> validated desired state (`Manifest`).

Reads one file, several files, or directories of `*.yaml`/`*.yml`, keeping the file, line and column of every
key and value so that every problem can point at its source. Duplicate keys are errors (PyYAML would keep the
last one silently). Validation itself lives in `validate`; this module reads, merges and builds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import names, privileges
from .errors import Location, Problem, ValidationError
from .model import (
    AdminSource,
    Grant,
    Manifest,
    ObjectRef,
    PasswordPolicy,
    Principal,
    RotationSettings,
    SecretSettings,
    Target,
    Tls,
)

Path_ = tuple[Any, ...]
# libyaml's parser when PyYAML was built with it (the wheels are): same events and marks, many times faster.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def parse_text(text: str, file: str) -> tuple[Document, list[Problem]]:
    """Parse YAML text into a Document; duplicate keys and syntax errors become problems."""
    problems: list[Problem] = []
    doc = Document(file=file, data=None)
    loader = LOADER(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        problems.append(Problem(loc, f"YAML syntax error: {exc.problem or exc}", "fix the YAML syntax"))
        return doc, problems
    finally:
        loader.dispose()
    if root is None:
        doc.data = {}
        doc.values[()] = Location(file, 1, 1)
        return doc, problems

    def build(node: yaml.Node, path: Path_) -> Any:
        doc.values[path] = _location(file, node)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            seen: dict[Any, Location] = {}
            for key_node, value_node in _flatten(node):
                key = loader.construct_object(key_node, deep=True)
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

    doc.data = build(root, ())
    return doc, problems


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
                raise ValidationError([Problem(None, f"directory {path} holds no *.yaml manifest", "")])
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ValidationError(
                [Problem(None, f"manifest {path} does not exist", "pass an existing file or directory with -f")]
            )
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


def load(paths: Iterable[str | Path]) -> Manifest:
    """Read, validate and build the manifest from files/directories. Raises ValidationError."""
    files = manifest_files(paths)
    return load_sources([(str(f), f.read_text(encoding="utf-8")) for f in files])


def load_sources(sources: Iterable[tuple[str, str]]) -> Manifest:
    """Read, validate and build the manifest from (name, text) pairs (files, git blobs, tests)."""
    from .validate import validate_documents

    documents, problems = read_documents(sources)
    if problems:
        raise ValidationError(problems)
    problems = validate_documents(documents)
    if problems:
        raise ValidationError(problems)
    return build_manifest(documents)


# ---------------------------------------------------------------- building the model


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
                found.append(Item(doc, (section, i), entry, login))
    return found


def build_target(name: str, doc: Document, spec: dict[str, Any]) -> Target:
    admin = spec.get("admin") or {}
    tls = spec.get("tls")
    return Target(
        name=name,
        engine=spec["engine"],
        admin=AdminSource(secret=admin.get("secret"), url_env=admin.get("url_env")),
        host=spec.get("host"),
        port=spec.get("port"),
        database=spec.get("database"),
        tls=Tls(mode=tls.get("mode", "prefer"), ca=tls.get("ca")) if tls else None,
        default_privileges_for=tuple(spec.get("default_privileges_for") or ()),
        location=doc.where(("targets", name)),
    )


def parse_grant(engine: str, entry: dict[str, Any], location: Location | None) -> list[Grant]:
    """One manifest grant entry -> Grants on individual objects (or wildcards). Raises names.NameError_."""
    key = next(k for k in entry if k != "privileges")
    kind = privileges.GRANT_KEYS[key]
    refs: list[ObjectRef] = []
    if engine != "postgres" and kind in (privileges.DATABASE, privileges.TABLE, privileges.FUNCTION):
        return [_mysql_grant(engine, kind, obj, entry["privileges"], location) for obj in entry[key]]
    privs = privileges.expand(engine, kind, entry["privileges"])
    if kind == privileges.COLUMN:
        for table, columns in entry[key].items():
            schema, table_name = names.qualified(table, "table")
            refs.extend(ObjectRef(kind, schema, table_name, column) for column in columns)
    elif kind in (privileges.DATABASE, privileges.SCHEMA):
        refs.extend(ObjectRef(kind, "", obj) for obj in entry[key])
    elif kind == privileges.FUNCTION:
        refs.extend(ObjectRef(kind, *names.function(obj)) for obj in entry[key])
    else:
        refs.extend(ObjectRef(kind, *names.qualified(obj, kind)) for obj in entry[key])
    return [Grant(ref, privs, location) for ref in refs]


def _mysql_grant(engine: str, kind: str, obj: str, privilege_names: list[str], location: Location | None) -> Grant:
    """MySQL/MariaDB: `databases: [db]` and `tables: [db.*]` are one database-level grant (mysql.db), which
    takes database-level privileges; `db.table` a table grant; `db.routine` a routine grant."""
    if kind == privileges.DATABASE:
        schema, name = obj, "*"
    elif kind == privileges.FUNCTION:
        schema, name = names.routine(obj)
    else:
        schema, name = names.qualified(obj, "table")
    level = privileges.DATABASE if name == "*" else kind
    ref = ObjectRef(privileges.TABLE if level == privileges.DATABASE else kind, schema, name)
    return Grant(ref, privileges.expand(engine, level, privilege_names), location)


def _secret_settings(values: dict[str, Any]) -> SecretSettings:
    return SecretSettings(
        name=values.get("name", SecretSettings.name),
        kms_key=values.get("kms_key"),
        tags=tuple(sorted((values.get("tags") or {}).items())),
        recovery_days=values.get("recovery_days", 7),
        description=values.get("description"),
    )


def _rotation_settings(values: dict[str, Any]) -> RotationSettings:
    schedule = values.get("schedule")
    return RotationSettings(
        strategy=values.get("strategy", "single"),
        schedule=str(schedule) if schedule is not None else None,
        window=values.get("window"),
        function=values.get("function"),
        rotate_immediately=bool(values.get("rotate_immediately", False)),
    )


def build_principal(item: Item, target: Target, defaults: dict[str, Any], profiles: dict[str, Any]) -> Principal:
    data = item.data
    grants: list[Grant] = []
    for i, entry in enumerate(data.get("grants") or []):
        grants.extend(parse_grant(target.engine, entry, item.doc.where((*item.path, "grants", i))))
    if data.get("profile"):
        for entry in profiles.get(data["profile"], []):
            grants.extend(parse_grant(target.engine, entry, item.doc.where((*item.path, "profile"))))

    def section(name: str) -> dict[str, Any]:
        return {**(defaults.get(name) or {}), **(data.get(name) or {})}

    policy = section("password")
    return Principal(
        name=data["name"],
        target=data["target"],
        login=item.login,
        grants=tuple(grants),
        member_of=tuple(data.get("member_of") or ()),
        connection_limit=data.get("connection_limit"),
        description=data.get("description"),
        host=data.get("host", "%"),
        require_tls=bool(data.get("require_tls", False)),
        state=data.get("state", "present"),
        adopted=bool(data.get("adopted", False)),
        secret=_secret_settings(section("secret")),
        rotation=_rotation_settings(section("rotation")) if item.login else RotationSettings(strategy="none"),
        password=PasswordPolicy(
            length=policy.get("length", PasswordPolicy.length),
            exclude_characters=policy.get("exclude_characters", PasswordPolicy.exclude_characters),
        ),
        location=item.location,
    )


def build_manifest(documents: list[Document]) -> Manifest:
    defaults = merged_defaults(documents)
    profiles = merged_profiles(documents)
    targets = {name: build_target(name, doc, spec) for name, (doc, spec) in merged_targets(documents).items()}
    principals = tuple(
        build_principal(item, targets[item.data["target"]], defaults, profiles) for item in items(documents)
    )
    return Manifest(targets=targets, principals=principals, files=tuple(d.file for d in documents))
