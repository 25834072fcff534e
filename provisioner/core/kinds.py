"""The object kinds a server has privileges on, in one registry: for each kind its manifest key, its container, how
its names are written, the privileges each engine family grants on it (and since which server version), what a
grant on it implies, whether `schema.*` and default privileges apply, and its place in plans.

Everything else asks this registry: no module outside it compares an object kind with a string. A new kind is
one `KindSpec` entry here, one catalog query and one row of each engine's own kind table (see `engines/*/kinds.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache


class Family(StrEnum):
    """Engines that share a model of accounts and grants (MySQL and MariaDB are one family)."""

    POSTGRES = "postgres"
    MYSQL = "mysql"


class ObjectKind(StrEnum):
    GLOBAL = "global"  # MySQL/MariaDB: *.* (never declarable: a managed account holds none)
    DATABASE = "database"
    SCHEMA = "schema"
    TABLE = "table"
    SEQUENCE = "sequence"
    FUNCTION = "function"
    PROCEDURE = "procedure"  # MySQL/MariaDB only (PostgreSQL grants ON ROUTINE cover both)
    COLUMN = "column"


class Container(StrEnum):
    """Where objects of a kind live: the server (cluster-wide), a database, or a schema of a database."""

    SERVER = "server"
    DATABASE = "database"
    SCHEMA = "schema"


class Naming(StrEnum):
    """How the manifest writes an object of the kind."""

    NAME = "name"  # `filmdb`
    QUALIFIED = "qualified"  # `schema.object` (MySQL: `database.table`, or `database.*`)
    SIGNATURE = "signature"  # `schema.function(argument types)`
    ROUTINE = "routine"  # MySQL/MariaDB: `database.routine`
    COLUMNS = "columns"  # {schema.table: [column, ...]}
    NONE = "none"  # not declarable


PG, MY = Family.POSTGRES, Family.MYSQL


def _both(naming: Naming) -> dict[Family, Naming]:
    return {PG: naming, MY: naming}

_MYSQL_TABLE = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
                          "CREATE VIEW", "SHOW VIEW", "TRIGGER"})


@dataclass(frozen=True)
class KindSpec:
    kind: ObjectKind
    key: str | None  # the manifest's grant key (`tables`); None: never declared in the manifest
    container: Container
    naming: Mapping[Family, Naming]  # how each family's manifests write its objects
    privileges: Mapping[Family, frozenset[str]]  # a family missing here has no such kind
    # privilege -> the first server major that has it, per family (ALL means it only on those servers)
    since: Mapping[Family, Mapping[str, int]] = field(default_factory=dict)
    implies_usage: bool = False  # PostgreSQL: a grant on it implies USAGE on its schema
    wildcard: bool = False  # `schema.*`: every object now, and default privileges for later ones (PostgreSQL)
    in_schema_keyword: bool = False  # one statement reaches every object of a schema (GRANT ... ON ALL ... IN)
    default_privileges: bool = False  # ALTER DEFAULT PRIVILEGES applies to it

    def on(self, family: Family | str) -> frozenset[str]:
        """The privileges of the kind on a family's servers (empty: the family has no such kind)."""
        return self.privileges.get(Family(family), frozenset())

    def written(self, family: Family | str) -> Naming:
        return self.naming.get(Family(family), Naming.NONE)


# In the order plans list and sort them.
SPECS: tuple[KindSpec, ...] = (
    KindSpec(ObjectKind.GLOBAL, None, Container.SERVER, {}, {}),
    KindSpec(ObjectKind.DATABASE, "databases", Container.SERVER, _both(Naming.NAME), {
        PG: frozenset({"CONNECT", "CREATE", "TEMPORARY"}),
        # MySQL/MariaDB: `databases: [db]` is the database-level grant `db.*` (mysql.db)
        MY: _MYSQL_TABLE | frozenset({"CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "CREATE ROUTINE",
                                      "ALTER ROUTINE", "EVENT"})}),
    KindSpec(ObjectKind.SCHEMA, "schemas", Container.DATABASE, {PG: Naming.NAME},
             {PG: frozenset({"USAGE", "CREATE"})}),
    KindSpec(ObjectKind.TABLE, "tables", Container.SCHEMA, _both(Naming.QUALIFIED), {
        PG: frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}),
        MY: _MYSQL_TABLE}, since={PG: {"MAINTAIN": 17}}, implies_usage=True, wildcard=True, in_schema_keyword=True,
        default_privileges=True),
    KindSpec(ObjectKind.SEQUENCE, "sequences", Container.SCHEMA, {PG: Naming.QUALIFIED},
             {PG: frozenset({"USAGE", "SELECT", "UPDATE"})}, implies_usage=True, wildcard=True,
             in_schema_keyword=True, default_privileges=True),
    KindSpec(ObjectKind.FUNCTION, "functions", Container.SCHEMA, {PG: Naming.SIGNATURE, MY: Naming.ROUTINE},
             {PG: frozenset({"EXECUTE"}), MY: frozenset({"EXECUTE", "ALTER ROUTINE"})}, implies_usage=True,
             wildcard=True, in_schema_keyword=True, default_privileges=True),
    KindSpec(ObjectKind.PROCEDURE, "procedures", Container.SCHEMA, {MY: Naming.ROUTINE},
             {MY: frozenset({"EXECUTE", "ALTER ROUTINE"})}),
    KindSpec(ObjectKind.COLUMN, "columns", Container.SCHEMA, _both(Naming.COLUMNS), {
        PG: frozenset({"SELECT", "INSERT", "UPDATE", "REFERENCES"}),
        MY: frozenset({"SELECT", "INSERT", "UPDATE", "REFERENCES"})}, implies_usage=True),
)
KINDS: dict[ObjectKind, KindSpec] = {spec.kind: spec for spec in SPECS}
ORDER: dict[ObjectKind, int] = {spec.kind: position for position, spec in enumerate(SPECS)}
BY_KEY: dict[str, ObjectKind] = {spec.key: spec.kind for spec in SPECS if spec.key}


def spec(kind: ObjectKind | str) -> KindSpec:
    return KINDS[ObjectKind(kind)]


def kind_of_key(key: str) -> ObjectKind:
    """The kind a manifest grant key names (`tables` -> TABLE)."""
    return BY_KEY[key]


@cache
def keys_of(family: Family | str) -> tuple[str, ...]:
    """The grant keys a family's manifests may use, in registry order."""
    return tuple(s.key for s in SPECS if s.key and s.on(family))


def order(kind: ObjectKind | str) -> int:
    return ORDER[ObjectKind(kind)]


def implying_usage() -> frozenset[ObjectKind]:
    return frozenset(s.kind for s in SPECS if s.implies_usage)


def with_default_privileges() -> tuple[ObjectKind, ...]:
    return tuple(s.kind for s in SPECS if s.default_privileges)


def vocabulary_of(family: Family | str) -> dict[ObjectKind, frozenset[str]]:
    """Every kind a family has, with its privileges."""
    return {s.kind: s.on(family) for s in SPECS if s.on(family)}
