"""The privilege vocabulary: which privileges exist for which object kind, per engine family.

Shared by validation (is this privilege valid here?) and the diff (what does ALL expand to?). Knows no SQL.
"""

from __future__ import annotations

from functools import cache

DATABASE = "database"
SCHEMA = "schema"
TABLE = "table"
COLUMN = "column"
SEQUENCE = "sequence"
FUNCTION = "function"
PROCEDURE = "procedure"  # MySQL/MariaDB only (PostgreSQL grants ON ROUTINE cover both)
GLOBAL = "global"  # MySQL/MariaDB: privileges on *.* (never declarable: a managed account holds none)

# Manifest key of a grant entry -> object kind.
GRANT_KEYS: dict[str, str] = {
    "databases": DATABASE,
    "schemas": SCHEMA,
    "tables": TABLE,
    "columns": COLUMN,
    "sequences": SEQUENCE,
    "functions": FUNCTION,
    "procedures": PROCEDURE,
}

POSTGRES: dict[str, frozenset[str]] = {
    DATABASE: frozenset({"CONNECT", "CREATE", "TEMPORARY"}),
    SCHEMA: frozenset({"USAGE", "CREATE"}),
    TABLE: frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}),
    COLUMN: frozenset({"SELECT", "INSERT", "UPDATE", "REFERENCES"}),
    SEQUENCE: frozenset({"USAGE", "SELECT", "UPDATE"}),
    FUNCTION: frozenset({"EXECUTE"}),
}

# MySQL/MariaDB: a database-level grant (db.*) may hold table privileges and routine/DDL privileges.
_MYSQL_TABLE = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
     "CREATE VIEW", "SHOW VIEW", "TRIGGER"}
)
MYSQL: dict[str, frozenset[str]] = {
    DATABASE: _MYSQL_TABLE
    | frozenset({"CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "CREATE ROUTINE", "ALTER ROUTINE",
                 "EVENT"}),
    TABLE: _MYSQL_TABLE,
    COLUMN: frozenset({"SELECT", "INSERT", "UPDATE", "REFERENCES"}),
    FUNCTION: frozenset({"EXECUTE", "ALTER ROUTINE"}),
    PROCEDURE: frozenset({"EXECUTE", "ALTER ROUTINE"}),
}

ALIASES = {"TEMP": "TEMPORARY", "ALL PRIVILEGES": "ALL"}

ENGINE_FAMILY = {"postgres": POSTGRES, "mysql": MYSQL, "mariadb": MYSQL}
ENGINE_FAMILY_NAME = {"postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}


def vocabulary(engine: str) -> dict[str, frozenset[str]]:
    return ENGINE_FAMILY[engine]


@cache  # a few dozen distinct spellings, normalised thousands of times in a large manifest
def normalize(privilege: str) -> str:
    upper = " ".join(privilege.upper().split())
    return ALIASES.get(upper, upper)


# Privileges that only some server versions have, with the first major that has them: `ALL` in the manifest
# expands to them only on those servers (the diff adds them from the engine's traits).
SINCE_VERSION: dict[tuple[str, str], dict[str, int]] = {("postgres", TABLE): {"MAINTAIN": 17}}


def version_specific(engine: str, kind: str) -> frozenset[str]:
    return frozenset(SINCE_VERSION.get((ENGINE_FAMILY_NAME.get(engine, engine), kind), {}))


def available(engine: str, kind: str, major: int) -> frozenset[str]:
    """The version-specific privileges of a kind that a server of this major version has."""
    since = SINCE_VERSION.get((ENGINE_FAMILY_NAME.get(engine, engine), kind), {})
    return frozenset(p for p, first in since.items() if major >= first)


def expand(engine: str, kind: str, privileges: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Normalise names and expand ALL to every privilege of the kind that every server version has."""
    return _expand(engine, kind, tuple(privileges))


@cache
def _expand(engine: str, kind: str, privileges: tuple[str, ...]) -> frozenset[str]:
    allowed = vocabulary(engine)[kind] - version_specific(engine, kind)
    result: set[str] = set()
    for raw in privileges:
        name = normalize(raw)
        if name == "ALL":
            result |= allowed
        else:
            result.add(name)
    return frozenset(result)


def says_all(privileges: list[str] | tuple[str, ...]) -> bool:
    return any(normalize(raw) == "ALL" for raw in privileges)


def all_known(engine: str | None = None) -> frozenset[str]:
    families = [ENGINE_FAMILY[engine]] if engine else list(ENGINE_FAMILY.values())
    return frozenset(p for family in families for kind in family.values() for p in kind) | {"ALL"}
