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
    TYPE = "type"  # PostgreSQL types and domains
    LANGUAGE = "language"
    FOREIGN_DATA_WRAPPER = "foreign data wrapper"
    FOREIGN_SERVER = "foreign server"
    TABLESPACE = "tablespace"
    PARAMETER = "parameter"  # PostgreSQL 15+: SET and ALTER SYSTEM on a configuration parameter
    LARGE_OBJECT = "large object"  # never declarable: a managed principal holds none
    PROXY = "proxy"  # MariaDB/MySQL: PROXY ON 'user'@'host' (never declarable)


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
    ACCOUNT = "account"  # MySQL/MariaDB PROXY: the proxied account, `name` its user and `column` its host
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
    default_privileges: bool = False  # `schema.*` sets ALTER DEFAULT PRIVILEGES for it
    # PostgreSQL: a grant on it implies CONNECT on its database (not on what lives outside any database)
    implies_connect: bool = True
    # `owns:` may name such objects (ALTER ... OWNER TO)
    ownable: bool = False
    lower_case_names: bool = False  # names are case-insensitive and stored in lower case (parameters)
    # a name with a dot need not exist to be granted on (parameters of an extension not loaded yet)
    dotted_placeholders: bool = False

    def on(self, family: Family | str) -> frozenset[str]:
        """The privileges of the kind on a family's servers (empty: the family has no such kind)."""
        return self.privileges.get(Family(family), frozenset())

    def first_major(self, family: Family | str) -> int:
        """The first server major that has the kind at all: every privilege of it is newer (0: every version)."""
        since = self.since.get(Family(family), {})
        privileges = self.on(family)
        if not privileges or not privileges <= since.keys():
            return 0
        return min(since[p] for p in privileges)

    def written(self, family: Family | str) -> Naming:
        return self.naming.get(Family(family), Naming.NONE)

    @property
    def names_an_account(self) -> bool:
        """Its objects are accounts ('user'@'host': name and host), not database objects."""
        return Naming.ACCOUNT in self.naming.values()


# In the order plans list and sort them.
SPECS: tuple[KindSpec, ...] = (
    KindSpec(ObjectKind.GLOBAL, None, Container.SERVER, {}, {}),
    KindSpec(ObjectKind.PROXY, None, Container.SERVER, {MY: Naming.ACCOUNT}, {MY: frozenset({"PROXY"})}),
    KindSpec(ObjectKind.TABLESPACE, "tablespaces", Container.SERVER, {PG: Naming.NAME},
             {PG: frozenset({"CREATE"})}, implies_connect=False),
    KindSpec(ObjectKind.PARAMETER, "parameters", Container.SERVER, {PG: Naming.NAME},
             {PG: frozenset({"SET", "ALTER SYSTEM"})}, since={PG: {"SET": 15, "ALTER SYSTEM": 15}},
             implies_connect=False, lower_case_names=True, dotted_placeholders=True),
    KindSpec(ObjectKind.DATABASE, "databases", Container.SERVER, _both(Naming.NAME), {
        PG: frozenset({"CONNECT", "CREATE", "TEMPORARY"}),
        # MySQL/MariaDB: `databases: [db]` is the database-level grant `db.*` (mysql.db)
        MY: _MYSQL_TABLE | frozenset({"CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "CREATE ROUTINE",
                                      "ALTER ROUTINE", "EVENT"})}),
    KindSpec(ObjectKind.SCHEMA, "schemas", Container.DATABASE, {PG: Naming.NAME},
             {PG: frozenset({"USAGE", "CREATE"})}, ownable=True),
    KindSpec(ObjectKind.LANGUAGE, "languages", Container.DATABASE, {PG: Naming.NAME}, {PG: frozenset({"USAGE"})}),
    KindSpec(ObjectKind.FOREIGN_DATA_WRAPPER, "foreign_data_wrappers", Container.DATABASE, {PG: Naming.NAME},
             {PG: frozenset({"USAGE"})}),
    KindSpec(ObjectKind.FOREIGN_SERVER, "foreign_servers", Container.DATABASE, {PG: Naming.NAME},
             {PG: frozenset({"USAGE"})}),
    KindSpec(ObjectKind.TABLE, "tables", Container.SCHEMA, _both(Naming.QUALIFIED), {
        PG: frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}),
        MY: _MYSQL_TABLE}, since={PG: {"MAINTAIN": 17}}, implies_usage=True, wildcard=True, in_schema_keyword=True,
        default_privileges=True, ownable=True),
    KindSpec(ObjectKind.SEQUENCE, "sequences", Container.SCHEMA, {PG: Naming.QUALIFIED},
             {PG: frozenset({"USAGE", "SELECT", "UPDATE"})}, implies_usage=True, wildcard=True,
             in_schema_keyword=True, default_privileges=True, ownable=True),
    KindSpec(ObjectKind.FUNCTION, "functions", Container.SCHEMA, {PG: Naming.SIGNATURE, MY: Naming.ROUTINE},
             {PG: frozenset({"EXECUTE"}), MY: frozenset({"EXECUTE", "ALTER ROUTINE"})}, implies_usage=True,
             wildcard=True, in_schema_keyword=True, default_privileges=True, ownable=True),
    # Types and domains (GRANT ... ON TYPE covers both); no `ALL TYPES IN SCHEMA` form: named one by one.
    KindSpec(ObjectKind.TYPE, "types", Container.SCHEMA, {PG: Naming.QUALIFIED}, {PG: frozenset({"USAGE"})},
             implies_usage=True, wildcard=True, default_privileges=True),
    KindSpec(ObjectKind.PROCEDURE, "procedures", Container.SCHEMA, {MY: Naming.ROUTINE},
             {MY: frozenset({"EXECUTE", "ALTER ROUTINE"})}),
    KindSpec(ObjectKind.COLUMN, "columns", Container.SCHEMA, _both(Naming.COLUMNS), {
        PG: frozenset({"SELECT", "INSERT", "UPDATE", "REFERENCES"}),
        MY: frozenset({"SELECT", "INSERT", "UPDATE", "REFERENCES"})}, implies_usage=True),
    KindSpec(ObjectKind.LARGE_OBJECT, None, Container.DATABASE, {}, {PG: frozenset({"SELECT", "UPDATE"})}),
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


def ownable() -> tuple[ObjectKind, ...]:
    """The kinds `owns:` may name, in registry order."""
    return tuple(s.kind for s in SPECS if s.ownable)


def owns_keys() -> tuple[str, ...]:
    """The keys of `owns:` (the grant keys of the ownable kinds)."""
    return tuple(s.key for s in SPECS if s.ownable and s.key)


def vocabulary_of(family: Family | str) -> dict[ObjectKind, frozenset[str]]:
    """Every kind a family has, with its privileges."""
    return {s.kind: s.on(family) for s in SPECS if s.on(family)}
