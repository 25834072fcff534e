"""What is known of each engine without talking to it, in one registry: its family, default port and database,
the URL schemes and secret `engine` values that name it, its driver, name limits, reserved names, system schemas,
and what it can do (role attributes, settings, membership options, a host part, IAM authentication, schemas,
default privileges, ...).

Everything outside `provisioner/engines/` asks these facts instead of comparing engine names: a new engine that
speaks an existing wire protocol (Amazon Redshift, Aurora DSQL) is an `EngineFacts` entry whose capability flags
say what it lacks, plus its package under `engines/`. `Traits`, the diff's view of an engine, derives from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache

from provisioner.core.kinds import SPECS, Family, ObjectKind
from provisioner.core.model import Traits
from provisioner.core.names import mysql_pattern_matches
from provisioner.core.privileges import available

# RDS and Aurora PostgreSQL: members of this role log in with IAM authentication tokens, not passwords.
RDS_IAM = "rds_iam"


def major_version(server_version: str | None) -> int:
    """The major version a server reports ("15.20 (Debian ...)" -> 15; "10.11.19-MariaDB" -> 10); 0 if none."""
    found = re.match(r"\d+", server_version or "")
    return int(found.group(0)) if found else 0


@dataclass(frozen=True)
class EngineFacts:
    name: str
    family: Family
    label: str  # for messages: PostgreSQL, MySQL, MariaDB
    default_port: int
    default_database: str | None  # where a connection without a database goes (PostgreSQL: postgres)
    url_schemes: tuple[str, ...]  # of an admin URL
    driver: str  # the Python driver applications use: psycopg | pymysql
    driver_database: str  # the driver's connect() keyword for the database: dbname | database
    sqlalchemy_driver: str
    name_limit: int  # longest user name the server accepts
    name_limit_in_bytes: bool  # PostgreSQL counts bytes, MySQL/MariaDB characters
    basic_plane_only: bool  # identifiers kept in utf8mb3: no character beyond U+FFFF
    reserved: re.Pattern[str]  # system and admin accounts, refused in the file and never changed (SPEC 2)
    system_schemas: tuple[str, ...] | re.Pattern[str]  # the server's own schemas (databases), never granted on
    # ---- what it can do
    role_attributes: bool = False  # SUPERUSER, CREATEDB, ... (PostgreSQL)
    role_settings: bool = False  # ALTER ROLE ... SET
    membership_options: bool = False  # admin/inherit/set on a membership (inherit/set from 16)
    host_part: bool = False  # accounts are 'user'@'host'
    role_host: str = ""  # the host part of group roles ('' when roles have none)
    default_roles: bool = False  # granted roles are active at login only as default roles
    one_default_role: bool = False  # MariaDB: one default role per account
    iam_authentication: str = ""  # "role" (granted rds_iam), "plugin" (AWSAuthenticationPlugin), "" (none)
    schemas: bool = False  # objects live in schemas inside databases (else databases hold them directly)
    cluster_databases: bool = False  # a target may manage several databases of its server (`databases:`)
    default_privileges: bool = False  # ALTER DEFAULT PRIVILEGES: `schema.*` reaches later objects
    public_role: bool = False  # PUBLIC holds privileges (`public_privileges:`)
    reassign_owned: bool = False  # roles own objects; `retire:` reassigns them
    object_owners: bool = False  # objects have an owner role, which `owns:` declares (ALTER ... OWNER TO)
    group_role_for_pairs: bool = False  # an alternating pair shares a NOLOGIN group role (session `role`)
    database_patterns: bool = False  # database-level grants name LIKE patterns (`app\\_%.*`)
    drop_takes_grants: bool = False  # DROP USER takes every grant and membership with it
    predefined_role_prefix: str = ""  # roles the server predefines (pg_*), grantable without declaring them
    marker_table: str = ""  # where ownership markers live when accounts have no comments (MariaDB)
    aliases: tuple[str, ...] = field(default_factory=tuple)  # `engine` values of secrets that name it

    def name_length(self, name: str) -> int:
        return len(name.encode()) if self.name_limit_in_bytes else len(name)

    def reaches_system_schema(self, schema: str, pattern: bool, also: tuple[str, ...] = ()) -> str | None:
        """The system schema (or database) a grant's container reaches, or None; `pattern`: a database-level
        LIKE pattern (`%`, `_`); `also`: bookkeeping databases of the tool's own."""
        if isinstance(self.system_schemas, re.Pattern):
            return schema if self.system_schemas.match(schema) else None
        for name in (*self.system_schemas, *also):
            if (mysql_pattern_matches(schema, name) if pattern else schema.lower() == name):
                return name
        return None


_PG_RESERVED = re.compile(r"^(postgres|rdsadmin|rds_.*|pg_.*|public|current_user|session_user|current_role|none)$",
                          re.IGNORECASE)
_MYSQL_RESERVED = re.compile(r"^(root|mysql\..*|mariadb\.sys|rdsadmin|rds_.*|public|none)$", re.IGNORECASE)
_MYSQL_SYSTEM = ("mysql", "sys", "performance_schema", "information_schema")

POSTGRES = EngineFacts(
    name="postgres", family=Family.POSTGRES, label="PostgreSQL", default_port=5432, default_database="postgres",
    url_schemes=("postgresql", "postgres"), driver="psycopg", driver_database="dbname",
    sqlalchemy_driver="postgresql+psycopg",
    name_limit=63, name_limit_in_bytes=True, basic_plane_only=False, reserved=_PG_RESERVED,
    system_schemas=re.compile(r"^(pg_.*|information_schema)$", re.IGNORECASE),
    role_attributes=True, role_settings=True, membership_options=True, iam_authentication="role", schemas=True,
    cluster_databases=True, default_privileges=True, public_role=True, reassign_owned=True, object_owners=True,
    group_role_for_pairs=True, predefined_role_prefix="pg_",
    aliases=("postgres", "postgresql", "aurora-postgresql"))
_MYSQL_FAMILY = EngineFacts(
    name="mysql", family=Family.MYSQL, label="MySQL", default_port=3306, default_database=None,
    url_schemes=("mysql", "mariadb"), driver="pymysql", driver_database="database",
    sqlalchemy_driver="mysql+pymysql",
    name_limit=32, name_limit_in_bytes=False, basic_plane_only=True, reserved=_MYSQL_RESERVED,
    system_schemas=_MYSQL_SYSTEM, host_part=True, role_host="%", default_roles=True, iam_authentication="plugin",
    database_patterns=True, drop_takes_grants=True, aliases=("mysql", "aurora-mysql", "aurora"))
MYSQL = _MYSQL_FAMILY
MARIADB = replace(_MYSQL_FAMILY, name="mariadb", label="MariaDB", name_limit=80, role_host="", one_default_role=True,
                  iam_authentication="", marker_table="provisioner_meta", aliases=("mariadb",))

ENGINES: dict[str, EngineFacts] = {facts.name: facts for facts in (POSTGRES, MYSQL, MARIADB)}
# A secret without an `engine` is read as AWS's PostgreSQL functions read it.
DEFAULT_ENGINE = POSTGRES.name

# `engine` values found in RDS-credential secrets (AWS's own and ours) -> our engine name.
SECRET_ENGINE_ALIASES: dict[str, str] = {alias: facts.name for facts in ENGINES.values() for alias in facts.aliases}


def facts(engine: str) -> EngineFacts:
    return ENGINES[engine]


def engine_from_secret(value: object) -> str | None:
    """Our engine name for a secret's `engine` field, or None when it names no engine we support."""
    return SECRET_ENGINE_ALIASES.get(str(value or "").lower())


def is_reserved(name: str, engine: str) -> bool:
    return bool(ENGINES[engine].reserved.match(name))


@cache
def traits(engine: str, server_version: str | None = None) -> Traits:
    """What the diff must know of an engine's model of accounts and grants, for a server of this version (ALL
    on tables includes MAINTAIN from PostgreSQL 17; parameters have privileges from 15)."""
    found = ENGINES[engine]
    extras: dict[ObjectKind, frozenset[str]] = {}
    requires: dict[ObjectKind, dict[str, int]] = {}
    major = major_version(server_version)
    if server_version and major:
        for spec in SPECS:
            extras[spec.kind] = available(found.family, spec.kind, major)
            later = {p: first for p, first in spec.since.get(found.family, {}).items() if first > major}
            if later:
                requires[spec.kind] = later
    return Traits(implied_grants=found.schemas, schema_wildcards=found.default_privileges,
                  default_roles=found.default_roles, qualified_accounts=found.host_part, role_host=found.role_host,
                  drop_takes_grants=found.drop_takes_grants, all_extras={k: v for k, v in extras.items() if v},
                  marker_table=found.marker_table, requires=requires, server_major=major)
