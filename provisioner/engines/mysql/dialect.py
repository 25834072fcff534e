"""MySQL/MariaDB dialect facts: which server and version, privilege names as the grant tables spell them, the
client-side mysql_native_password hash, and the one identifier quoting function (values are never quoted
here: they are bound by the driver)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Grant-table column or SET value -> privilege name, where the obvious mapping (underscores to spaces) is wrong.
_SPECIAL = {"CREATE TMP TABLE": "CREATE TEMPORARY TABLES", "REPL SLAVE": "REPLICATION SLAVE",
            "REPL CLIENT": "REPLICATION CLIENT", "SHOW DB": "SHOW DATABASES", "GRANT": "GRANT OPTION",
            "DELETE VERSIONING ROWS": "DELETE HISTORY"}


@dataclass(frozen=True)
class Dialect:
    mariadb: bool
    version: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{'MariaDB' if self.mariadb else 'MySQL'} {'.'.join(map(str, self.version))}"

    @property
    def role_host(self) -> str:
        """The host part of group roles: MariaDB roles have none, MySQL roles are 'name'@'%'."""
        return "" if self.mariadb else "%"


MYSQL8 = Dialect(False, (8, 0))
MARIADB = Dialect(True, (10, 11))


def detect(version: str) -> Dialect:
    numbers = tuple(int(n) for n in re.findall(r"\d+", version.split("-")[0])[:3])
    return Dialect("mariadb" in version.lower(), numbers or (0,))


def for_engine(name: str) -> Dialect:
    """The dialect assumed before a server answers (offline plans): by the target's engine name."""
    return MARIADB if name == "mariadb" else MYSQL8


def privilege_name(raw: str) -> str:
    name = raw.removesuffix("_priv").replace("_", " ").upper().strip()
    return _SPECIAL.get(name, name)


def native_password_hash(password: str) -> str:
    """mysql_native_password's stored form, computed client-side so that no plaintext reaches the server."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def quote_identifier(name: str) -> str:
    """`name` with backticks doubled; `%` doubled too, since every statement is sent with bound parameters
    (pymysql formats the text with `%` even when there are none to bind)."""
    return "`" + name.replace("`", "``").replace("%", "%%") + "`"
