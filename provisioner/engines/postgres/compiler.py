"""PostgreSQL: changes -> statements, composed with `psycopg.sql` (identifiers quoted by the driver, values as
literals it renders). Pure: a function of the change and, for password changes, the SCRAM verifier the session
computed; a `match` over the closed change vocabulary, checked exhaustive by mypy.
"""

from __future__ import annotations

import re
from typing import assert_never

from psycopg import sql

from provisioner.core import changes as c
from provisioner.core import names
from provisioner.core.kinds import Family, ObjectKind, vocabulary_of
from provisioner.core.model import ObjectRef
from provisioner.engines.base import Statement
from provisioner.engines.postgres.kinds import PG_KINDS

KNOWN_PRIVILEGES = frozenset(p for privs in vocabulary_of(Family.POSTGRES).values() for p in privs)
ATTRIBUTE_RESET = {"SUPERUSER": "NOSUPERUSER", "CREATEDB": "NOCREATEDB", "CREATEROLE": "NOCREATEROLE",
                   "REPLICATION": "NOREPLICATION", "BYPASSRLS": "NOBYPASSRLS", "NOINHERIT": "INHERIT"}
PASSWORD_PLACEHOLDER = "'<SCRAM-SHA-256 verifier of the secret>'"
# Argument lists come from the catalog (oidvectortypes, which quotes odd type names) or the manifest; outside
# double-quoted names they hold only words, spaces, commas, dots and array brackets. This guards the one place
# raw SQL text is used.
_UNQUOTED_ARGS = re.compile(r'^[\w\s,\[\].]*$')
_VERIFIER = re.compile(r"'SCRAM-SHA-256\$[^']*'")


def statements(change: c.AnyChange, verifier: str | None = None) -> list[Statement]:
    """The statements of a database change; `verifier` None shows a placeholder for a password."""
    return [_statement(q) for q in compose(change, verifier)]


RoleChange = (c.CreateRole | c.AlterRole | c.DropRole | c.DropOwned | c.ReassignOwned | c.TerminateSessions
              | c.SetPassword | c.ResetPassword | c.FinishPendingPassword)


def compose(change: c.AnyChange, verifier: str | None) -> list[sql.Composable]:
    ident = sql.Identifier
    match change:
        case (c.CreateRole() | c.AlterRole() | c.DropRole() | c.DropOwned() | c.ReassignOwned()
              | c.TerminateSessions() | c.SetPassword() | c.ResetPassword() | c.FinishPendingPassword()):
            return _role(change, verifier)
        case c.GrantMembership():
            grant = sql.SQL("GRANT {} TO {}").format(ident(change.role), ident(change.member))
            return [grant] if not change.options else membership_options(change.role, change.member, change.options)
        case c.AlterMembership():
            changed = tuple(o for o in change.new if o not in change.old)
            return membership_options(change.role, change.member, changed)
        case c.RevokeMembership():
            return [sql.SQL("REVOKE {} FROM {}").format(ident(change.role), ident(change.member))]
        case c.RevokePrivileges() if change.grantor:
            # A REVOKE removes only the revoking role's grants (GRANTED BY must name the current user): revoke as
            # the grantor, then return to the admin.
            return [sql.SQL("SET ROLE {}").format(ident(change.grantor)), _privileges(change),
                    sql.SQL("RESET ROLE")]
        case c.GrantPrivileges() | c.RevokePrivileges() | c.RestoreColumnPrivileges() | c.RevokeGrantOption():
            return [_privileges(change)]
        case c.GrantDefaultPrivileges() | c.RevokeDefaultPrivileges():
            return [_default_privileges(change)]
        case c.AlterOwner():
            keyword = PG_KINDS[change.kind].owner_keyword
            if not keyword:
                raise ValueError(f"{change.kind} objects have no owner the manifest declares")
            return [sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(keyword), _object(change.obj),
                                                              ident(change.owner))]
        case c.SetDefaultRoles():
            raise TypeError("PostgreSQL has no default roles (members inherit)")
        case (c.CreateSecret() | c.UpdateSecret() | c.ConfirmPassword() | c.ConfigureRotation()
              | c.DisableRotation() | c.DeleteSecret()):
            raise TypeError(f"not a database change: {change.type_name}")
        case _:
            assert_never(change)


def _role(change: RoleChange, verifier: str | None) -> list[sql.Composable]:
    """A role's own lifecycle: create, alter, password, retirement, drop."""
    ident = sql.Identifier
    match change:
        case c.CreateRole():
            return _create_role(change, verifier)
        case c.AlterRole(was=c.Settings(value=old), to=c.Settings(value=new)):
            return settings(change.name, old, new)
        case c.AlterRole():
            return [alter_role(change.name, change.was, change.to)]
        case c.DropRole():
            return [sql.SQL("DROP ROLE {}").format(ident(change.name))]
        case c.DropOwned():
            return [sql.SQL("DROP OWNED BY {}").format(ident(change.name))]
        case c.ReassignOwned():
            return [sql.SQL("REASSIGN OWNED BY {} TO {}").format(ident(change.name), ident(change.to))]
        case c.TerminateSessions():
            return [sql.SQL("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = {} "
                            "AND pid <> pg_backend_pid()").format(sql.Literal(change.name))]
        case c.SetPassword() | c.ResetPassword() | c.FinishPendingPassword():
            return [password(change.name, verifier)]
        case _:
            assert_never(change)


def _create_role(change: c.CreateRole, verifier: str | None) -> list[sql.Composable]:
    ident = sql.Identifier
    words = ["LOGIN" if change.login else "NOLOGIN", *(_attribute(a) for a in change.attributes)]
    create = sql.SQL("CREATE ROLE {} {}").format(ident(change.name), sql.SQL(" ".join(words)))
    if change.secret:
        create = sql.SQL("{} PASSWORD {}").format(create, _verifier(verifier))
    if change.connection_limit is not None:
        create = sql.SQL("{} CONNECTION LIMIT {}").format(create, sql.Literal(change.connection_limit))
    parts: list[sql.Composable] = [create]
    parts.append(sql.SQL("COMMENT ON ROLE {} IS {}").format(ident(change.name), sql.Literal(change.comment)))
    if change.session_role:
        parts.append(_session_role(change.name, change.session_role))
    return parts


def alter_role(name: str, was: c.RoleSetting, to: c.RoleSetting) -> sql.Composable:
    role = sql.Identifier(name)
    match to:
        case c.Comment(value):
            return sql.SQL("COMMENT ON ROLE {} IS {}").format(role, sql.Literal(value))
        case c.Login(value):
            return sql.SQL("ALTER ROLE {} {}").format(role, sql.SQL("LOGIN" if value else "NOLOGIN"))
        case c.ConnectionLimit(value):
            return sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(role, sql.Literal(-1 if value is None
                                                                                        else value))
        case c.SessionRole(value):
            return _session_role(name, value)
        case c.Attributes(wanted):
            # Grant the listed attributes the role lacks, reset the ones it holds that are not listed.
            held = was.value if isinstance(was, c.Attributes) else ()
            words = [_attribute(a) for a in wanted if a not in held]
            words += [ATTRIBUTE_RESET[a] for a in held if a not in wanted]
            return sql.SQL("ALTER ROLE {} {}").format(role, sql.SQL(" ".join(words)))
        case c.RequireTls():
            raise ValueError("PostgreSQL roles have no setting require_tls (use pg_hba.conf hostssl)")
        case c.Settings():
            raise ValueError("settings compile to several statements: use settings()")
        case c.Authentication(value):
            if value != "iam":
                raise ValueError("a password is set from the account's secret (SetPassword)")
            return sql.SQL("ALTER ROLE {} PASSWORD NULL").format(role)
        case _:
            assert_never(to)


def settings(role: str, was: tuple[tuple[str, str, str], ...], to: tuple[tuple[str, str, str], ...]
             ) -> list[sql.Composable]:
    """ALTER ROLE ... [IN DATABASE ...] SET for settings added or changed, RESET for those no longer listed."""
    old = {(db, name): value for db, name, value in was}
    new = {(db, name): value for db, name, value in to}
    found: list[sql.Composable] = []
    for (db, name) in sorted(set(old) | set(new)):
        scope = sql.SQL("ALTER ROLE {}").format(sql.Identifier(role))
        if db:
            scope = sql.SQL("{} IN DATABASE {}").format(scope, sql.Identifier(db))
        if (db, name) not in new:
            found.append(sql.SQL("{} RESET {}").format(scope, sql.Identifier(name)))
        elif old.get((db, name)) != new[(db, name)]:
            value = _setting_value(new[(db, name)])
            found.append(sql.SQL("{} SET {} = {}").format(scope, sql.Identifier(name), value))
    return found


def _setting_value(value: str) -> sql.Composable:
    # A list (search_path = app, public) is sent as one literal per element: a single literal would be one
    # element; a double-quoted element is the server's own quoting, which it applies again to the bare name.
    parts = [part.strip() for part in value.split(",")] if "," in value else [value]
    bare = [p[1:-1].replace('""', '"') if len(p) > 1 and p[0] == p[-1] == '"' else p for p in parts]
    return sql.SQL(", ").join(sql.Literal(p) for p in bare)


def membership_options(role: str, member: str, options: tuple[tuple[str, bool], ...]) -> list[sql.Composable]:
    """GRANT with the options (re-granting changes an existing membership's options). ADMIN in the syntax every
    version has; INHERIT and SET in PostgreSQL 16's (the diff refuses them on older servers)."""
    names = sql.SQL("{} TO {}").format(sql.Identifier(role), sql.Identifier(member))
    found: list[sql.Composable] = []
    for key, value in options:
        if key == "admin":
            found.append(sql.SQL("GRANT {} WITH ADMIN OPTION").format(names) if value else
                         sql.SQL("REVOKE ADMIN OPTION FOR {} FROM {}").format(sql.Identifier(role),
                                                                            sql.Identifier(member)))
    newer = [sql.SQL(f"{key.upper()} {'TRUE' if value else 'FALSE'}") for key, value in options if key != "admin"]
    if newer:
        found.append(sql.SQL("GRANT {} WITH {}").format(names, sql.SQL(", ").join(newer)))
    if not found:  # a new membership with only admin false
        found.append(sql.SQL("GRANT {}").format(names))
    return found


def _attribute(name: str) -> str:
    if name not in ATTRIBUTE_RESET:
        raise ValueError(f"unknown role attribute {name!r}")
    return name


def password(role: str, verifier: str | None) -> sql.Composable:
    return sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), _verifier(verifier))


def _verifier(verifier: str | None) -> sql.Composable:
    return sql.SQL(PASSWORD_PLACEHOLDER) if verifier is None else sql.Literal(verifier)


def _checked(privileges: tuple[str, ...]) -> None:
    for privilege in privileges:
        if privilege not in KNOWN_PRIVILEGES:
            raise ValueError(f"unknown privilege {privilege!r}")


TEMPLATES = {c.GrantPrivileges: "GRANT {} ON {} TO {}", c.RevokePrivileges: "REVOKE {} ON {} FROM {}",
             c.RestoreColumnPrivileges: "GRANT {} ON {} TO {}",
             c.RevokeGrantOption: "REVOKE GRANT OPTION FOR {} ON {} FROM {}"}
PrivilegeStatement = c.GrantPrivileges | c.RevokePrivileges | c.RestoreColumnPrivileges | c.RevokeGrantOption


def _privileges(change: PrivilegeStatement) -> sql.Composable:
    _checked(change.privileges)
    if change.kind == ObjectKind.COLUMN:
        columns = sql.SQL(", ").join(sql.Identifier(ref.column) for ref in change.objects)
        privs = sql.SQL(", ").join(sql.SQL("{} ({})").format(sql.SQL(p), columns) for p in change.privileges)
        first = change.objects[0]
        target = sql.SQL("TABLE {}").format(sql.Identifier(first.schema, first.name))
    else:
        privs = sql.SQL(", ").join(sql.SQL(p) for p in change.privileges)
        if change.all_in_schema:
            target = sql.SQL("{} {}").format(sql.SQL(PG_KINDS[change.kind].in_schema), sql.Identifier(change.schema))
        else:
            target = sql.SQL("{} {}").format(sql.SQL(PG_KINDS[change.kind].keyword),
                                             sql.SQL(", ").join(_object(ref) for ref in change.objects))
    return sql.SQL(TEMPLATES[type(change)]).format(privs, target, _grantees(change.grantees))


def _default_privileges(change: c.GrantDefaultPrivileges | c.RevokeDefaultPrivileges) -> sql.Composable:
    _checked(change.privileges)
    scope = sql.SQL(" IN SCHEMA {}").format(sql.Identifier(change.schema)) if change.schema else sql.SQL("")
    revoke = isinstance(change, c.RevokeDefaultPrivileges)
    action = "REVOKE {} ON {} FROM {}" if revoke else "GRANT {} ON {} TO {}"
    return sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}{} " + action).format(
        sql.Identifier(change.owner), scope, sql.SQL(", ").join(sql.SQL(p) for p in change.privileges),
        sql.SQL(PG_KINDS[change.kind].default_keyword), _grantees(change.grantees))


def _grantees(grantees: tuple[tuple[str, str], ...]) -> sql.Composable:
    # PUBLIC is a keyword, not a role: quoted it would name a role "PUBLIC" (which cannot exist).
    return sql.SQL(", ").join(sql.SQL("PUBLIC") if name == "PUBLIC" else sql.Identifier(name) for name, _ in grantees)


def _session_role(role: str, session_role: str | None) -> sql.Composable:
    if session_role is None:
        return sql.SQL("ALTER ROLE {} RESET role").format(sql.Identifier(role))
    return sql.SQL("ALTER ROLE {} SET role = {}").format(sql.Identifier(role), sql.Literal(session_role))


def _object(ref: ObjectRef) -> sql.Composable:
    match PG_KINDS[ref.kind].written:
        case "name":
            return sql.Identifier(ref.name)
        case "qualified":
            return sql.Identifier(ref.schema, ref.name)
        case "oid":
            if not ref.name.isdigit():
                raise ValueError(f"a large object is named by its oid, not {ref.name!r}")
            return sql.Literal(int(ref.name))
        case "signature":
            name, args = names.split_signature(ref.name)
            if not safe_arguments(args):
                raise ValueError(f"unexpected characters in the argument list of {ref}")
            return sql.SQL("{}({})").format(sql.Identifier(ref.schema, name), sql.SQL(args))
        case unknown:
            assert_never(unknown)


def safe_arguments(args: str) -> bool:
    """Whether an argument type list is only type names: quoted names balanced, and nothing but words, spaces,
    commas, dots and brackets outside them."""
    outside, quoted = [], False
    for ch in args:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            outside.append(ch)
    return not quoted and bool(_UNQUOTED_ARGS.match("".join(outside)))


def _statement(query: sql.Composable) -> Statement:
    text = query.as_string(None)
    return Statement(display=_VERIFIER.sub(PASSWORD_PLACEHOLDER, text), query=query)
