"""PostgreSQL's row for each object kind (`core.kinds`): the keyword of GRANT/REVOKE, the `ALL ... IN SCHEMA`
form, the keyword of ALTER DEFAULT PRIVILEGES and the `pg_default_acl.defaclobjtype` code. A kind PostgreSQL has
(`KindSpec.privileges`) and that lacks a row here is an error caught by the unit tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from provisioner.core.kinds import ObjectKind


@dataclass(frozen=True)
class PgKind:
    keyword: str  # GRANT ... ON <keyword> object
    in_schema: str = ""  # GRANT ... ON ALL <...> IN SCHEMA s
    default_keyword: str = ""  # ALTER DEFAULT PRIVILEGES ... ON <...>
    default_code: str = ""  # pg_default_acl.defaclobjtype
    # ALTER DEFAULT PRIVILEGES for it takes no IN SCHEMA (schemas, large objects: database-wide only)
    default_in_schema: bool = True
    owner_keyword: str = ""  # ALTER <...> name OWNER TO (ownable kinds)
    # How a statement names one object: an identifier, schema-qualified, a routine signature, or an oid (large
    # objects are numbers)
    written: Literal["name", "qualified", "signature", "oid"] = "name"


PG_KINDS: dict[ObjectKind, PgKind] = {
    ObjectKind.DATABASE: PgKind("DATABASE"),
    ObjectKind.TABLESPACE: PgKind("TABLESPACE"),
    ObjectKind.PARAMETER: PgKind("PARAMETER"),
    ObjectKind.SCHEMA: PgKind("SCHEMA", default_keyword="SCHEMAS", default_code="n", default_in_schema=False,
                              owner_keyword="SCHEMA"),
    ObjectKind.LANGUAGE: PgKind("LANGUAGE"),
    ObjectKind.FOREIGN_DATA_WRAPPER: PgKind("FOREIGN DATA WRAPPER"),
    ObjectKind.FOREIGN_SERVER: PgKind("FOREIGN SERVER"),
    # ALTER TABLE ... OWNER TO serves views, materialized views and foreign tables too
    ObjectKind.TABLE: PgKind("TABLE", "ALL TABLES IN SCHEMA", "TABLES", "r", owner_keyword="TABLE",
                                     written="qualified"),
    ObjectKind.SEQUENCE: PgKind("SEQUENCE", "ALL SEQUENCES IN SCHEMA", "SEQUENCES", "S",
                                           owner_keyword="SEQUENCE", written="qualified"),
    ObjectKind.FUNCTION: PgKind("ROUTINE", "ALL ROUTINES IN SCHEMA", "FUNCTIONS", "f", owner_keyword="ROUTINE",
                                       written="signature"),
    ObjectKind.TYPE: PgKind("TYPE", default_keyword="TYPES", default_code="T", written="qualified"),
    ObjectKind.COLUMN: PgKind("TABLE", written="qualified"),  # column privileges: GRANT p (columns) ON TABLE t
    # PostgreSQL 18 has default privileges ON LARGE OBJECTS
    ObjectKind.LARGE_OBJECT: PgKind("LARGE OBJECT", default_keyword="LARGE OBJECTS", default_code="L",
                                    default_in_schema=False, written="oid"),
}
# pg_default_acl.defaclobjtype -> kind
DEFAULT_ACL_KINDS: dict[str, ObjectKind] = {row.default_code: kind for kind, row in PG_KINDS.items()
                                            if row.default_code}
