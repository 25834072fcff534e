"""MySQL/MariaDB's row for each object kind (`core.kinds`): how a GRANT names its objects. A kind the MySQL family
has (`KindSpec.privileges`) and that lacks a row here is an error caught by the unit tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from provisioner.core.kinds import ObjectKind


@dataclass(frozen=True)
class MyKind:
    # how GRANT ... ON names an object: *.*, db.table (or db.*), db.table with a column list, FUNCTION db.name,
    # 'user'@'host'
    on: Literal["global", "table", "columns", "routine", "account"]
    routine_keyword: str = ""  # FUNCTION | PROCEDURE (mysql.procs_priv Routine_type)


MY_KINDS: dict[ObjectKind, MyKind] = {
    ObjectKind.GLOBAL: MyKind("global"),
    ObjectKind.PROXY: MyKind("account"),  # PROXY ON 'user'@'host' (mysql.proxies_priv)
    ObjectKind.DATABASE: MyKind("table"),  # written `databases: [db]` or `tables: [db.*]`, kept as `db.*`
    ObjectKind.TABLE: MyKind("table"),
    ObjectKind.COLUMN: MyKind("columns"),
    ObjectKind.FUNCTION: MyKind("routine", "FUNCTION"),
    ObjectKind.PROCEDURE: MyKind("routine", "PROCEDURE"),
}
ROUTINE_KINDS: dict[str, ObjectKind] = {row.routine_keyword: kind for kind, row in MY_KINDS.items()
                                        if row.routine_keyword}
