"""PostgreSQL's row for each object kind (`core.kinds`): the keyword of GRANT/REVOKE, the `ALL ... IN SCHEMA`
form, the keyword of ALTER DEFAULT PRIVILEGES and the `pg_default_acl.defaclobjtype` code. A kind PostgreSQL has
(`KindSpec.privileges`) and that lacks a row here is an error caught by the unit tests."""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.core.kinds import ObjectKind


@dataclass(frozen=True)
class PgKind:
    keyword: str  # GRANT ... ON <keyword> object
    in_schema: str = ""  # GRANT ... ON ALL <...> IN SCHEMA s
    default_keyword: str = ""  # ALTER DEFAULT PRIVILEGES ... ON <...>
    default_code: str = ""  # pg_default_acl.defaclobjtype


PG_KINDS: dict[ObjectKind, PgKind] = {
    ObjectKind.DATABASE: PgKind("DATABASE"),
    ObjectKind.SCHEMA: PgKind("SCHEMA"),
    ObjectKind.TABLE: PgKind("TABLE", "ALL TABLES IN SCHEMA", "TABLES", "r"),
    ObjectKind.SEQUENCE: PgKind("SEQUENCE", "ALL SEQUENCES IN SCHEMA", "SEQUENCES", "S"),
    ObjectKind.FUNCTION: PgKind("ROUTINE", "ALL ROUTINES IN SCHEMA", "FUNCTIONS", "f"),
    ObjectKind.COLUMN: PgKind("TABLE"),  # column privileges: GRANT p (columns) ON TABLE t
}
# pg_default_acl.defaclobjtype -> kind
DEFAULT_ACL_KINDS: dict[str, ObjectKind] = {row.default_code: kind for kind, row in PG_KINDS.items()
                                            if row.default_code}
