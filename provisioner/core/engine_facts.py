"""What is known of each engine without talking to it: its family, default port, the names secrets give it,
name limits, reserved names and privilege vocabulary. Pure data, shared by the manifest checks, the secret
value reader, the engines and the commands (`engines.base` re-exports it next to the engine interface).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from provisioner.core import privileges
from provisioner.core.names import mysql_pattern_matches

# RDS and Aurora PostgreSQL: members of this role log in with IAM authentication tokens, not passwords.
RDS_IAM = "rds_iam"


def major_version(server_version: str | None) -> int:
    """The major version a server reports ("15.20 (Debian ...)" -> 15; "10.11.19-MariaDB" -> 10); 0 if none."""
    found = re.match(r"\d+", server_version or "")
    return int(found.group(0)) if found else 0


@dataclass(frozen=True)
class EngineFacts:
    name: str
    family: str  # postgres | mysql
    default_port: int
    name_limit: int  # longest user name the server accepts (PostgreSQL counts bytes)
    reserved: re.Pattern[str]  # system and admin accounts, refused in the file and never changed (SPEC 2)
    vocabulary: dict[str, frozenset[str]]  # object kind -> privileges


_PG_RESERVED = re.compile(r"^(postgres|rdsadmin|rds_.*|pg_.*|public|current_user|session_user|current_role|none)$",
                          re.IGNORECASE)
_MYSQL_RESERVED = re.compile(r"^(root|mysql\..*|mariadb\.sys|rdsadmin|rds_.*|public|none)$", re.IGNORECASE)

ENGINES: dict[str, EngineFacts] = {
    "postgres": EngineFacts("postgres", "postgres", 5432, 63, _PG_RESERVED, privileges.POSTGRES),
    "mysql": EngineFacts("mysql", "mysql", 3306, 32, _MYSQL_RESERVED, privileges.MYSQL),
    "mariadb": EngineFacts("mariadb", "mysql", 3306, 80, _MYSQL_RESERVED, privileges.MYSQL),
}

# `engine` values found in RDS-credential secrets (AWS's own and ours) -> our engine name.
SECRET_ENGINE_ALIASES: dict[str, str] = {"postgres": "postgres", "postgresql": "postgres",
                                         "aurora-postgresql": "postgres", "mysql": "mysql", "aurora-mysql": "mysql",
                                         "aurora": "mysql", "mariadb": "mariadb"}


# Schemas (PostgreSQL) and databases (MySQL/MariaDB) of the server itself, and the tool's bookkeeping: no grant
# of the manifest may name or reach them (SPEC 8: a managed principal able to write the marker table could make
# apply drop any account).
_PG_SYSTEM_SCHEMAS = re.compile(r"^(pg_.*|information_schema)$", re.IGNORECASE)
MYSQL_SYSTEM_DATABASES = ("mysql", "sys", "performance_schema", "information_schema")


def facts(engine: str) -> EngineFacts:
    return ENGINES[engine]


def engine_from_secret(value: str | None) -> str | None:
    """Our engine name for a secret's `engine` field, or None when it names no engine we support."""
    return SECRET_ENGINE_ALIASES.get(str(value or "").lower())


def is_reserved(name: str, engine: str) -> bool:
    return bool(ENGINES[engine].reserved.match(name))


def system_schema_reached(engine: str, schema: str, pattern: bool, protected: tuple[str, ...] = ()) -> str | None:
    """The system schema (or database) a grant's container reaches, or None. MySQL/MariaDB database-level grants
    name a LIKE pattern (`%`, `_`) when `pattern`; `protected` adds the tool's own bookkeeping databases."""
    if ENGINES[engine].family == "postgres":
        return schema if _PG_SYSTEM_SCHEMAS.match(schema) else None
    for name in (*MYSQL_SYSTEM_DATABASES, *protected):
        if (mysql_pattern_matches(schema, name) if pattern else schema.lower() == name):
            return name
    return None
