"""Role changes: create, alter (typed settings), memberships, default roles, and drops of roles that go —
for one database role of the manifest at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from provisioner.core import changes as c
from provisioner.core.conventions import clone_name, group_name, parse_marker, role_comment, user_names
from provisioner.core.diff.access import DesiredAccess
from provisioner.core.diff.context import DiffContext, Grantee
from provisioner.core.diff.grants import default_privilege_changes, privilege_changes
from provisioner.core.engine_facts import facts, major_version
from provisioner.core.model import MembershipOptions, Principal, RetireSettings, RoleState


def database_principals(p: Principal, engine: str) -> list[Principal]:
    """The roles an account needs in the database.

    Alternating accounts on PostgreSQL: a NOLOGIN group `NAME_group` holds every grant and membership; the login
    users NAME and NAME_clone are its members and switch to it at login (`SET role`), so both hold exactly the
    account's privileges and every object either creates is owned by the group, usable by both (unlike AWS's
    own function, whose clone keeps what it creates: aws-samples/aws-secrets-manager-rotation-lambdas#56).
    Elsewhere (MySQL/MariaDB) both users receive the same grants directly.
    """
    if not (p.login and p.rotation.strategy == "alternating"):
        return [p]
    if facts(engine).group_role_for_pairs:
        # Settings take effect at login: the users carry them, the group (never logged in as) none.
        group = replace(p, name=group_name(p.name), login=False, connection_limit=None, settings=(),
                        description=f"privileges of {p.name} and {clone_name(p.name)} (alternating rotation)")
        users = [replace(p, name=n, grants=(), member_of=(group.name,), session_role=group.name)
                 for n in user_names(p)]
        return [group, *users]
    return [replace(p, name=n) for n in user_names(p)]


def reconcile_role(ctx: DiffContext, p: Principal, principal: str, access: DesiredAccess, secret: str | None
                   ) -> bool:
    """Role, membership and privilege changes for one database role of the manifest; False when the role is not
    this target's to manage (an error says why)."""
    who = ctx.grantee(p.name, p.host, principal)
    existing = ctx.db.roles.get(who.identity)
    if p.name == ctx.db.admin_user:
        ctx.result.errors.append(f"{p.name} is the admin account of target {ctx.target.name}; it is never managed")
        return False
    marker = parse_marker(existing.comment) if existing else None
    if marker and marker.target != ctx.target.name:
        ctx.result.errors.append(f"role {p.name} is managed by target {marker.target!r} (same server); "
                                 f"declare it under one target only")
        return False
    adopted = existing is not None and (marker is None or marker.adopted)
    comment: str | None = role_comment(p.description, ctx.target.name, adopted)
    if p.adopted and existing is not None and marker is None:
        # Declared as adopted: manage its grants, leave its comment unless the manifest describes it.
        comment = p.description if p.description is not None else existing.comment
    ctx.result.changes += role_changes(ctx, p, who, existing, comment, secret)
    ctx.result.changes += membership_changes(ctx, p, who, existing)
    object_changes(ctx, who, access)
    return True


def object_changes(ctx: DiffContext, who: Grantee, access: DesiredAccess) -> None:
    """The privilege and default-privilege changes that make `who` hold `access` in the database of `ctx`."""
    privilege_changes(ctx, who, access)
    default_privilege_changes(ctx, who, access)


# Role attributes that give power beyond object privileges (NOINHERIT takes some away).
POWERFUL_ATTRIBUTES = ("SUPERUSER", "CREATEROLE", "CREATEDB", "BYPASSRLS", "REPLICATION")
# Roles whose membership is power of its own (besides every predefined `pg_*` role and the admin).
POWERFUL_ROLES = ("rds_superuser", "rds_replication", "rds_password")


def widened_by_attributes(added: tuple[str, ...] | frozenset[str]) -> str:
    powerful = [a for a in sorted(added) if a in POWERFUL_ATTRIBUTES]
    return f"role attribute {', '.join(powerful)}" if powerful else ""


def widened_by_membership(ctx: DiffContext, role: str, admin_option: bool) -> str:
    reasons = []
    if role.startswith("pg_") or role in POWERFUL_ROLES:
        reasons.append(f"membership in {role}")
    elif role == ctx.db.admin_user:
        reasons.append(f"membership in the admin {role}")
    if admin_option:
        reasons.append(f"ADMIN OPTION on {role} (may grant it to others)")
    return "; ".join(reasons)


def role_changes(ctx: DiffContext, p: Principal, who: Grantee, existing: RoleState | None, comment: str | None,
                 secret: str | None) -> list[c.AnyChange]:
    base: dict[str, Any] = {"target": ctx.target.name, "principal": who.principal, "host": p.host, "name": p.name}
    default_roles = ctx.traits.default_roles and p.login
    if existing is None:
        found: list[c.AnyChange] = [c.CreateRole(
            action=c.ADD, login=p.login, connection_limit=_limit(p.connection_limit), comment=comment or "",
            require_tls=p.require_tls, session_role=p.session_role, secret=secret,
            attributes=tuple(sorted(p.attributes)), auth=p.auth if p.login else "password",
            widens=widened_by_attributes(p.attributes), **base)]
        if default_roles and p.member_of:
            found.append(c.SetDefaultRoles(action=c.ADD, old=(), new=tuple(sorted(p.member_of)), **base))
        if p.settings:
            found.append(c.AlterRole(action=c.CHANGE, was=c.Settings(()), to=c.Settings(p.settings), **base))
        return found
    found = []
    if default_roles and existing.default_roles != frozenset(p.member_of):
        found.append(c.SetDefaultRoles(action=c.CHANGE, old=tuple(sorted(existing.default_roles)),
                                       new=tuple(sorted(p.member_of)), **base))
    settings: list[tuple[c.RoleSetting, c.RoleSetting]] = [
        (c.Login(existing.login), c.Login(p.login)),
        (c.ConnectionLimit(existing.connection_limit), c.ConnectionLimit(_limit(p.connection_limit))),
        (c.Attributes(tuple(sorted(existing.attributes))), c.Attributes(tuple(sorted(p.attributes)))),
        (c.Comment(existing.comment), c.Comment(comment)),
        (c.RequireTls(existing.require_tls), c.RequireTls(p.require_tls)),
        (c.SessionRole(existing.session_role), c.SessionRole(p.session_role)),
        (c.Settings(existing.settings), c.Settings(p.settings)),
    ]
    found += [c.AlterRole(action=c.CHANGE, was=was, to=to, **base,
                          widens=widened_by_attributes(frozenset(to.value) - frozenset(was.value))
                          if isinstance(to, c.Attributes) and isinstance(was, c.Attributes) else "")
              for was, to in settings if was != to]
    if p.login and p.auth == "iam":
        held = existing.auth
        if held != "iam":  # the password goes (back to a password: the new secret's SetPassword sets it)
            found.append(c.AlterRole(action=c.CHANGE, was=c.Authentication(held), to=c.Authentication("iam"),
                                     **base))
    return found


def _limit(value: int | None) -> int | None:
    return None if value is None or value < 0 else value


def membership_changes(ctx: DiffContext, p: Principal, who: Grantee, existing: RoleState | None
                       ) -> list[c.AnyChange]:
    have = existing.member_of if existing else frozenset()
    want = frozenset(p.member_of)
    base: dict[str, Any] = {"target": ctx.target.name, "principal": who.principal, "member": p.name, "host": p.host}
    declared = dict(p.membership_options)
    found: list[c.AnyChange] = []
    for r in sorted(want - have):
        options = _options(ctx, p, r, declared)
        # A new membership has no admin option: only the options to set travel with the GRANT.
        found.append(c.GrantMembership(action=c.ADD, role=r, options=tuple(o for o in options
                                                                           if o != ("admin", False)),
                                       widens=widened_by_membership(ctx, r, ("admin", True) in options), **base))
    for r in sorted(want & have):
        held = (existing.membership_options if existing else {}).get(r, {})
        options = _options(ctx, p, r, declared)
        old = tuple((k, held.get(k, False)) for k, _ in options)
        if facts(ctx.target.engine).membership_options and old != options:
            newly_admin = ("admin", True) in options and ("admin", True) not in old
            found.append(c.AlterMembership(action=c.CHANGE, role=r, old=old, new=options, **base,
                                           widens=f"ADMIN OPTION on {r} (may grant it to others)" if newly_admin
                                           else ""))
    found += [c.RevokeMembership(action=c.DESTROY, role=r, **base) for r in sorted(have - want)]
    return found


def _options(ctx: DiffContext, p: Principal, role: str, declared: dict[str, MembershipOptions]
             ) -> tuple[tuple[str, bool], ...]:
    """The managed options of one membership; inherit/set on a server older than 16 are a plan error."""
    options = declared.get(role, MembershipOptions()).managed()
    newer = [k for k, _ in options if k in ("inherit", "set")]
    if newer and major_version(ctx.db.server_version) < 16:
        ctx.result.errors.append(f"{p.name}: membership option(s) {', '.join(newer)} of {role} need PostgreSQL 16 "
                                 f"or later; target {ctx.target.name} runs {ctx.db.server_version}")
        options = tuple(o for o in options if o[0] not in newer)
    return options


def drop_role(ctx: DiffContext, identity: str, role: RoleState, principal: str | None = None,
              retire: RetireSettings | None = None) -> bool:
    """Take what the role holds in every database of the target, then drop it; False (and an error) when it owns
    objects and no `retire` says where they go, or has anything in a database the target does not manage.

    MySQL/MariaDB: DROP USER takes every grant with it. PostgreSQL: DROP OWNED BY takes every privilege the
    owners granted and every default-privilege entry, when the admin holds the role's privileges (superusers,
    members); grants by other roles are revoked in their names first. Without the role's privileges each grant is
    revoked. Memberships go with DROP ROLE on both. A retired role first loses LOGIN (and its sessions, if asked),
    then its objects pass to `reassign_owned_to` in each database.
    """
    name = role.name
    who = Grantee(name, role.host, identity, principal or name)
    base: dict[str, Any] = {"action": c.DESTROY, "target": ctx.target.name, "principal": who.principal}
    owned = _owned_by_database(ctx, role)
    if not _unmanaged_ok(ctx, role) or (owned and not _retire_steps(ctx, role, who, retire or RetireSettings(),
                                                                     base, owned)):
        return False
    if not ctx.traits.drop_takes_grants:
        for each in ctx.every_database():
            if each is ctx or each.scope in owned or role.held_in.get(each.scope):
                _take_grants(each, role, who, base)
    ctx.result.changes.append(c.DropRole(name=name, host=role.host, **base))
    ctx.result.labels.setdefault(who.principal, "account" if role.login else "role")
    return True


def _take_grants(ctx: DiffContext, role: RoleState, who: Grantee, base: dict[str, Any]) -> None:
    """What the role holds in the database of `ctx`, taken before DROP ROLE."""
    if role.admin_holds:
        # DROP OWNED revokes as each object's owner: grants by other roles go first, in their grantors' names.
        before = len(ctx.result.changes)
        privilege_changes(ctx, who, DesiredAccess())
        ctx.result.changes[before:] = [ch for ch in ctx.result.changes[before:]
                                       if isinstance(ch, c.RevokePrivileges) and ch.grantor]
        ctx.result.changes.append(c.DropOwned(name=role.name, **base))
    else:
        privilege_changes(ctx, who, DesiredAccess())
        default_privilege_changes(ctx, who, DesiredAccess())


def _by_database(ctx: DiffContext, counts: Mapping[str, int]) -> dict[str, int]:
    """Counts by database, the connected one (and shared objects, which REASSIGN OWNED there moves) as ''."""
    found: dict[str, int] = {}
    for database, count in counts.items():
        scope = "" if database in ("", ctx.db.name) else database
        found[scope] = found.get(scope, 0) + count
    return found


def _owned_by_database(ctx: DiffContext, role: RoleState) -> dict[str, int]:
    """The objects the role owns, by database of the target ('' = the connected one)."""
    if not role.owned_in:
        return {"": role.owned_objects} if role.owned_objects else {}
    return _by_database(ctx, role.owned_in)


def _places(ctx: DiffContext, counts: Mapping[str, int], example: str = "", unit: str = "") -> str:
    """`3 in database filmdb (e.g. table app.t), 1 in database billingdb`: counts by database for messages."""
    return ", ".join(f"{count}{unit}" + (f" in database {scope or ctx.database}" if scope or ctx.database else "")
                     + (example if not scope else "") for scope, count in sorted(counts.items()))


def _unmanaged_ok(ctx: DiffContext, role: RoleState) -> bool:
    """False (and an error) when the role owns or holds something in a database the target does not manage:
    DROP ROLE would fail on it."""
    held = {**_by_database(ctx, role.owned_in)}
    for scope, count in _by_database(ctx, role.held_in).items():
        held[scope] = held.get(scope, 0) + count
    elsewhere = {scope: count for scope, count in held.items() if scope and scope not in ctx.subs}
    if not elsewhere:
        return True
    ctx.result.errors.append(
        f"{role.name} cannot be dropped: it owns or has privileges on object(s) in databases target "
        f"{ctx.target.name} does not manage ({_places(ctx, elsewhere)}). Add them to the target's `databases:` so "
        f"that apply cleans them up too, or run REASSIGN OWNED / DROP OWNED BY {role.name} there by hand")
    return False


def _retire_steps(ctx: DiffContext, role: RoleState, who: Grantee, retire: RetireSettings, base: dict[str, Any],
                  owned: dict[str, int]) -> bool:
    """The steps before the drop of a role that owns objects; False (and an error) when they cannot be taken."""
    name = role.name
    heir = retire.reassign_owned_to
    if heir is None or ctx.traits.drop_takes_grants:
        example = f" (e.g. {role.owned_example})" if role.owned_example else ""
        total = f" {sum(owned.values())} object(s):" if len(owned) > 1 else ""
        ctx.result.errors.append(
            f"{name} cannot be dropped: it owns{total} {_places(ctx, owned, example, '' if total else ' object(s)')}"
            f". Give its "
            f"entry `retire: {{reassign_owned_to: ROLE}}` (with `state: absent`), or reassign them by hand "
            f"(REASSIGN OWNED BY {name} TO another_role, in each database) and run apply again")
        return False
    known = heir in ctx.db.roles or heir in ctx.present  # the manifest's roles are created earlier in the apply
    if not role.admin_holds or not known:
        missing = f"role {heir} does not exist" if not known else (
            f"the admin {ctx.db.admin_user} does not hold the privileges of {name} (GRANT {name} TO "
            f"{ctx.db.admin_user})")
        ctx.result.errors.append(f"{name} cannot be retired to {heir}: {missing}")
        return False
    if role.login:
        ctx.result.changes.append(c.AlterRole(name=name, host=role.host, was=c.Login(True), to=c.Login(False),
                                              **{**base, "action": c.CHANGE}))
    if retire.terminate_sessions:
        ctx.result.changes.append(c.TerminateSessions(name=name, **base))
    for each in ctx.every_database():
        if each.scope in owned:
            each.result.changes.append(c.ReassignOwned(name=name, to=heir, **base))
    return True
