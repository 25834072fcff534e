"""MySQL/MariaDB's row for each object kind (`core.kinds`): how a GRANT names its objects. A kind the MySQL family
has (`KindSpec.privileges`) and that lacks a row here is an error caught by the unit tests."""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.core.kinds import ObjectKind


@dataclass(frozen=True)
class MyKind:
    on: str  # how GRANT ... ON names an object: "*.*", "db.table", "FUNCTION db.name", ...
    routine_keyword: str = ""  # FUNCTION | PROCEDURE (mysql.procs_priv Routine_type)


MY_KINDS: dict[ObjectKind, MyKind] = {
    ObjectKind.GLOBAL: MyKind("*.*"),
    ObjectKind.DATABASE: MyKind("db.*"),  # written `databases: [db]` or `tables: [db.*]`, kept as a table wildcard
    ObjectKind.TABLE: MyKind("db.table"),
    ObjectKind.COLUMN: MyKind("db.table (columns)"),
    ObjectKind.FUNCTION: MyKind("FUNCTION db.name", "FUNCTION"),
    ObjectKind.PROCEDURE: MyKind("PROCEDURE db.name", "PROCEDURE"),
}
ROUTINE_KINDS: dict[str, ObjectKind] = {row.routine_keyword: kind for kind, row in MY_KINDS.items()
                                        if row.routine_keyword}
