"""MySQL/MariaDB: changes -> statements for a dialect. Pure: a function of (change, dialect, password).

Identifiers go through the one quoting function; every value (user names, hosts, comments, password hashes) is a
bound parameter (`%s`), rendered for display by the driver's own escaping, the way `cursor.mogrify` does.
A `match` over the closed change vocabulary, checked exhaustive by mypy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, assert_never

from pymysql.converters import escape_item

from provisioner.core import changes as c
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import ObjectRef
from provisioner.engines.base import Statement
from provisioner.engines.mysql import queries as q
from provisioner.engines.mysql.dialect import Dialect, native_password_hash, quote_identifier
from provisioner.engines.mysql.kinds import MY_KINDS
from provisioner.errors import ProvisionerError

PASSWORD_PLACEHOLDER = "'<password from the secret>'"
HASH_PLACEHOLDER = "'<hash of the password from the secret>'"
UNKNOWN_PLACEHOLDER = "'<random password, set by the first rotation>'"
IAM_CLAUSE = "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"  # MySQL on RDS: IAM database authentication
_PRIVILEGE = re.compile(r"^[A-Z][A-Z_ ]*$")  # MySQL 8's dynamic privileges have underscores (BINLOG_ADMIN)
CHARSET = "utf8mb4"


@dataclass(frozen=True)
class Sql:
    """Statement text with `%s` for each bound value, and the values."""

    text: str
    params: tuple[Any, ...] = ()

    def __add__(self, other: Sql) -> Sql:
        return Sql(self.text + other.text, self.params + other.params)


def inline(text: str, params: tuple[Any, ...]) -> str:
    """The statement as the server receives it, values escaped by the driver (as cursor.mogrify does)."""
    return text % tuple(escape_item(p, CHARSET) for p in params)


def account(name: str, host: str, dialect: Dialect) -> Sql:
    """An account or role reference: 'user'@'host', or a bare MariaDB role name."""
    if dialect.mariadb and host == "":
        return Sql(quote_identifier(name))
    return Sql("%s@%s", (name, host))


def role(name: str, dialect: Dialect) -> Sql:
    return account(name, dialect.role_host, dialect)


def statements(change: c.AnyChange, dialect: Dialect, password: str | None = None,
               throwaway: str | None = None) -> list[Statement]:
    """`password` None shows a placeholder; `throwaway` is the random password of a user no secret holds yet."""
    shown = [p for p in (password, throwaway) if p]
    return [Statement(display=_masked(inline(s.text, s.params), shown), query=s.text, params=s.params)
            for s in compose(change, dialect, password, throwaway)]


def compose(change: c.AnyChange, dialect: Dialect, password: str | None, throwaway: str | None) -> list[Sql]:
    match change:
        case c.CreateRole():
            return _create(change, dialect, password, throwaway)
        case c.AlterRole():
            return _alter(change, dialect)
        case c.DropRole():
            verb = "DROP ROLE " if dialect.mariadb and change.host == "" else "DROP USER "
            return [Sql(verb) + account(change.name, change.host, dialect), *_forget(change.name, change.host,
                                                                                      dialect)]
        case c.SetPassword() | c.ResetPassword() | c.FinishPendingPassword():
            return [Sql("ALTER USER ") + account(change.name, change.host, dialect) + Sql(" ")
                    + _password_clause(password, dialect)]
        case c.GrantMembership():
            return [Sql("GRANT ") + role(change.role, dialect) + Sql(" TO ") + account(change.member, change.host,
                                                                                       dialect)]
        case c.RevokeMembership():
            return [Sql("REVOKE ") + role(change.role, dialect) + Sql(" FROM ")
                    + account(change.member, change.host, dialect)]
        case c.GrantPrivileges() | c.RevokePrivileges() | c.RestoreColumnPrivileges():
            return _privileges(change, dialect)
        case c.SetDefaultRoles():
            return [_default_roles(change, dialect)]
        case (c.GrantDefaultPrivileges() | c.RevokeDefaultPrivileges() | c.RevokeGrantOption() | c.DropOwned()
              | c.AlterMembership() | c.TerminateSessions() | c.ReassignOwned() | c.AlterOwner()):
            # MySQL/MariaDB keep GRANT OPTION as a privilege of its own, revoked like any other; DROP USER takes
            # every privilege and role grant with it; objects have no owner role.
            raise TypeError(f"{change.type_name} does not apply to MySQL/MariaDB")
        case (c.CreateSecret() | c.UpdateSecret() | c.ConfirmPassword() | c.ConfigureRotation()
              | c.DisableRotation() | c.DeleteSecret()):
            raise TypeError(f"not a database change: {change.type_name}")
        case _:
            assert_never(change)


def _password_clause(password: str | None, dialect: Dialect) -> Sql:
    if dialect.mariadb:
        if password is None:
            return Sql(f"IDENTIFIED BY PASSWORD {HASH_PLACEHOLDER}")
        return Sql("IDENTIFIED BY PASSWORD %s", (native_password_hash(password),))
    if password is None:
        return Sql(f"IDENTIFIED BY {PASSWORD_PLACEHOLDER}")
    return Sql("IDENTIFIED BY %s", (password,))


def _create(change: c.CreateRole, dialect: Dialect, password: str | None, throwaway: str | None) -> list[Sql]:
    if not change.login:
        texts = [Sql("CREATE ROLE ") + role(change.name, dialect)]
    else:
        if change.auth == "iam":
            if dialect.mariadb:
                raise ProvisionerError("MariaDB has no IAM database authentication", "use a password account")
            options = Sql(IAM_CLAUSE)
        elif change.secret:
            options = _password_clause(password, dialect)
        elif throwaway:
            # A user whose password no secret holds yet (the alternating clone): a random one nobody knows,
            # never an empty password; the first rotation sets the real one.
            options = _password_clause(throwaway, dialect)
        else:
            options = Sql(f"IDENTIFIED BY {UNKNOWN_PLACEHOLDER}")
        if change.require_tls:
            options += Sql(" REQUIRE SSL")
        if change.connection_limit:
            options += Sql(f" WITH MAX_USER_CONNECTIONS {int(change.connection_limit)}")
        texts = [Sql("CREATE USER ") + account(change.name, change.host, dialect) + Sql(" ") + options]
    if change.comment:
        texts.append(_comment(change.name, change.host, change.comment, dialect))
    return texts


def _comment(name: str, host: str, comment: str, dialect: Dialect) -> Sql:
    if dialect.mariadb:
        return Sql(q.UPSERT_MARKER, (name, host, comment))
    return Sql("ALTER USER ") + account(name, host, dialect) + Sql(" COMMENT %s", (comment,))


def _forget(name: str, host: str, dialect: Dialect) -> list[Sql]:
    return [Sql(q.DELETE_MARKER, (name, host))] if dialect.mariadb else []


def _alter(change: c.AlterRole, dialect: Dialect) -> list[Sql]:
    who = Sql("ALTER USER ") + account(change.name, change.host, dialect)
    match change.to:
        case c.Comment(value):
            return [_comment(change.name, change.host, str(value), dialect)]
        case c.ConnectionLimit(value):
            return [who + Sql(f" WITH MAX_USER_CONNECTIONS {int(value or 0)}")]
        case c.RequireTls(value):
            return [who + Sql(f" REQUIRE {'SSL' if value else 'NONE'}")]
        case c.Authentication(value) if value == "iam" and not dialect.mariadb:
            return [who + Sql(" " + IAM_CLAUSE)]
        case c.Login() | c.Attributes() | c.SessionRole() | c.Settings() | c.Authentication():
            raise ProvisionerError(f"cannot change {change.setting} of {change.name} on MySQL/MariaDB",
                                   "a login account and a role cannot turn into each other: drop and re-create it")
        case _:
            assert_never(change.to)


def _default_roles(change: c.SetDefaultRoles, dialect: Dialect) -> Sql:
    who = account(change.name, change.host, dialect)
    if dialect.mariadb:
        if len(change.new) > 1:
            raise ProvisionerError("MariaDB activates one default role per account")
        chosen = role(change.new[0], dialect) if change.new else Sql("NONE")
        return Sql("SET DEFAULT ROLE ") + chosen + Sql(" FOR ") + who
    roles = Sql("NONE")
    for i, name in enumerate(change.new):
        roles = role(name, dialect) if i == 0 else roles + Sql(", ") + role(name, dialect)
    return Sql("ALTER USER ") + who + Sql(" DEFAULT ROLE ") + roles


def _privileges(change: c.GrantPrivileges | c.RevokePrivileges | c.RestoreColumnPrivileges, dialect: Dialect
                ) -> list[Sql]:
    for privilege in change.privileges:
        if not _PRIVILEGE.match(privilege):
            raise ValueError(f"unexpected privilege name {privilege!r}")
    grantees = Sql("")
    for i, (name, host) in enumerate(change.grantees):
        grantees = grantees + (Sql(", ") if i else Sql("")) + account(name, host, dialect)
    verb, preposition = ("REVOKE", "FROM") if isinstance(change, c.RevokePrivileges) else ("GRANT", "TO")
    privs = ", ".join(change.privileges)
    if MY_KINDS[change.kind].on == "columns":
        columns = ", ".join(quote_identifier(ref.column) for ref in change.objects)
        first = change.objects[0]
        listed = ", ".join(f"{p} ({columns})" for p in change.privileges)
        on = f"{quote_identifier(first.schema)}.{quote_identifier(first.name)}"
        return [Sql(f"{verb} {listed} ON {on} {preposition} ") + grantees]
    return [Sql(f"{verb} {privs} ON ") + _on(change.kind, ref) + Sql(f" {preposition} ") + grantees
            for ref in change.objects]


def _on(kind: ObjectKind, ref: ObjectRef) -> Sql:
    """How GRANT and REVOKE name one object of a kind."""
    form = MY_KINDS[kind]
    match form.on:
        case "global":
            return Sql("*.*")
        case "account":  # the proxied account, host included even when empty
            return Sql("%s@%s", (ref.name, ref.column))
        case "routine":
            return Sql(f"{form.routine_keyword} {quote_identifier(ref.schema)}.{quote_identifier(ref.name)}")
        case "table":
            name = "*" if ref.is_wildcard else quote_identifier(ref.name)
            return Sql(f"{quote_identifier(ref.schema)}.{name}")
        case "columns":
            raise ValueError("column privileges name their columns with the privilege")
        case unknown:
            assert_never(unknown)


def _masked(text: str, passwords: list[str]) -> str:
    for password in passwords:
        text = text.replace(inline("%s", (password,)), PASSWORD_PLACEHOLDER)
        text = text.replace(inline("%s", (native_password_hash(password),)), HASH_PLACEHOLDER)
    return text
