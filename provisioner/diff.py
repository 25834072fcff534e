"""Diff: (desired, current) -> ordered list of changes. A pure function: no I/O, no SQL.

Authoritative for the accounts and roles the manifest names: what the file does not declare is revoked.
Never touches roles the file does not name, except those the provisioner itself created for this target and
that left the file (they are dropped). Works on access-list groups (objects sharing one ACL) so that the cost
follows the number of distinct ACLs, not accounts x tables.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from . import changes as c
from . import schedule
from .model import (
    AclGroup,
    CurrentState,
    ObjectRef,
    Principal,
    RoleState,
    SecretState,
    Target,
    Traits,
)
from .privileges import COLUMN, DATABASE, FUNCTION, SCHEMA, SEQUENCE, TABLE

MARKER = "managed by provisioner"
_MARKER_RE = re.compile(r"\[" + MARKER + r": target=(?P<target>[^,\]]*)(?P<adopted>, adopted)?\]\s*$")
SYNC_TAG = "provisioner:sync"  # "pending": secret written, database not confirmed; "version:ID": reset pending
ROTATION_TAG = "provisioner:rotation"  # fingerprint of the rotation configuration last applied
INTERNAL_TAGS = (SYNC_TAG, ROTATION_TAG)
CLONE_SUFFIX = "_clone"
GROUP_SUFFIX = "_group"
MANAGED_TAGS = ("provisioner:managed", "provisioner:target", "provisioner:account")
EMPTY: frozenset[str] = frozenset()
DEFAULTABLE = (TABLE, SEQUENCE, FUNCTION)
ALL_IN_SCHEMA_KINDS = (TABLE, SEQUENCE, FUNCTION)
KIND_ORDER = ("global", DATABASE, SCHEMA, TABLE, SEQUENCE, FUNCTION, COLUMN)

# Execution order: creations and grants first, revocations next, drops last; secret work around the database.
PHASE: dict[type, float] = {
    c.CreateSecret: 0, c.ConfirmPassword: 0, c.ResetPassword: 0,
    c.CreateRole: 1, c.AlterRole: 2, c.SetPassword: 3, c.FinishPendingPassword: 3,
    c.GrantMembership: 4, c.SetDefaultRoles: 4.5, c.GrantPrivileges: 5, c.GrantDefaultPrivileges: 6,
    c.RevokeDefaultPrivileges: 7, c.RevokePrivileges: 8, c.RevokeMembership: 9, c.DropRole: 10,
    c.UpdateSecret: 11, c.ConfigureRotation: 12, c.DisableRotation: 12, c.DeleteSecret: 13,
}


@dataclass(frozen=True)
class Marker:
    target: str
    adopted: bool
    description: str


@dataclass(frozen=True)
class DiffOptions:
    reset_passwords: frozenset[str] = frozenset()  # account names; "*" = every account
    create_secrets: bool = False  # adopted accounts without a secret get one (and so a new password)


@dataclass
class DiffResult:
    changes: list[c.Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # principal -> "account" | "role", for renderers


def role_comment(description: str | None, target: str, adopted: bool) -> str:
    marker = f"[{MARKER}: target={target}{', adopted' if adopted else ''}]"
    return f"{description} {marker}" if description else marker


def parse_marker(comment: str | None) -> Marker | None:
    if not comment:
        return None
    match = _MARKER_RE.search(comment)
    if not match:
        return None
    return Marker(match.group("target"), bool(match.group("adopted")), comment[: match.start()].rstrip())


def secret_name(principal: Principal, target: Target, database: str | None) -> str:
    return principal.secret.name.format(
        target=target.name, account=principal.name, engine=target.engine, database=database or ""
    )


def secret_tags(principal: Principal) -> dict[str, str]:
    tags = dict(principal.secret.tags)
    tags.update({"provisioner:managed": "true", "provisioner:target": principal.target,
                 "provisioner:account": principal.name})
    return tags


def secret_description(principal: Principal) -> str:
    return principal.secret.description or (
        f"Credentials of database account {principal.name} on target {principal.target} (managed by provisioner)"
    )


def secret_fields(principal: Principal, target: Target, connection: Mapping[str, object]) -> dict[str, object]:
    """The RDS-credential JSON of an account, without its password (SPEC 3)."""
    fields: dict[str, object] = {
        "engine": target.engine,
        "host": connection.get("host"),
        "port": connection.get("port"),
        "username": principal.name,
    }
    if connection.get("dbname"):
        fields["dbname"] = connection["dbname"]
    if principal.rotation.strategy == "alternating" and connection.get("masterarn"):
        fields["masterarn"] = connection["masterarn"]
    return fields


def same_kms_key(desired: str | None, current: str | None) -> bool:
    if not desired:
        return not current or current.endswith("aws/secretsmanager")
    if not current:
        return False
    return current == desired or current.endswith(":" + desired) or current.endswith("/" + desired)


# ---------------------------------------------------------------- desired access


@dataclass
class DesiredAccess:
    """What one principal should hold, split into declared objects, implied ones and schema wildcards."""

    explicit: dict[ObjectRef, set[str]] = field(default_factory=lambda: defaultdict(set))
    implied: dict[ObjectRef, set[str]] = field(default_factory=lambda: defaultdict(set))
    wildcard: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    # Implied privileges the principal has anyway (through PUBLIC or a role it is a member of): not granted,
    # but not revoked either when held.
    tolerated: dict[ObjectRef, set[str]] = field(default_factory=lambda: defaultdict(set))

    def keys(self) -> set[tuple[str, str]]:
        refs = list(self.explicit) + list(self.implied) + list(self.tolerated)
        return {(r.kind, r.schema) for r in refs} | set(self.wildcard)


def desired_access(principal: Principal, database: str | None, traits: Traits,
                   provided: Callable[[ObjectRef, str], bool] | None = None) -> DesiredAccess:
    access = DesiredAccess()
    for grant in principal.grants:
        ref = grant.obj
        if ref.is_wildcard and traits.schema_wildcards:
            access.wildcard[(ref.kind, ref.schema)] |= grant.privileges
        else:
            # MySQL/MariaDB: `db.*` is itself one grant (database level), which covers future tables natively.
            access.explicit[ref] |= grant.privileges
        if not traits.implied_grants:
            continue
        if ref.kind in (TABLE, SEQUENCE, FUNCTION, COLUMN):
            access.implied[ObjectRef(SCHEMA, "", ref.schema)].add("USAGE")
        if database:
            access.implied[ObjectRef(DATABASE, "", database)].add("CONNECT")
    # Nothing is implied that is also declared: the plan shows a grant as implied only when it is.
    for ref in list(access.implied):
        access.implied[ref] -= access.explicit.get(ref, set())
        if provided:
            already = {p for p in access.implied[ref] if provided(ref, p)}
            access.implied[ref] -= already
            if already:
                access.tolerated[ref] |= already
        if not access.implied[ref]:
            del access.implied[ref]
    return access


def provided_by(principals: list[Principal], state: CurrentState, database: str | None, traits: Traits
                ) -> Callable[[Principal], Callable[[ObjectRef, str], bool]]:
    """For each principal: whether an implied privilege reaches it anyway — through PUBLIC (e.g. CONNECT on a
    database, which PostgreSQL grants to PUBLIC by default) or through a role of the manifest it is a member of
    (roles inherit)."""
    db = state.database
    assert db is not None
    public = {(ref, p) for g in db.acl_groups if g.kind in (DATABASE, SCHEMA)
              for ref in g.objects for p in g.grants.get("PUBLIC", ())}
    roles = {p.name: p for p in principals if not p.login and p.state == "present"}
    own: dict[str, DesiredAccess] = {name: desired_access(p, database, traits) for name, p in roles.items()}

    def closure(p: Principal) -> set[str]:
        seen: set[str] = set()
        todo = [r for r in p.member_of if r in roles]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += [r for r in roles[name].member_of if r in roles]
        return seen

    def for_principal(p: Principal) -> Callable[[ObjectRef, str], bool]:
        inherited = closure(p)

        def provided(ref: ObjectRef, privilege: str) -> bool:
            if (ref, privilege) in public:
                return True
            return any(privilege in own[r].explicit.get(ref, ()) or privilege in own[r].implied.get(ref, ())
                       for r in inherited)

        return provided

    return for_principal


# ---------------------------------------------------------------- privilege changes


@dataclass
class AclIndex:
    """Current ACL groups by (kind, schema), and which keys each grantee holds something in."""

    groups: dict[tuple[str, str], list[AclGroup]]
    holders: dict[str, set[tuple[str, str]]]
    sizes: dict[tuple[str, str], int]

    @classmethod
    def build(cls, groups: Iterable[AclGroup]) -> AclIndex:
        by_key: dict[tuple[str, str], list[AclGroup]] = defaultdict(list)
        holders: dict[str, set[tuple[str, str]]] = defaultdict(set)
        sizes: dict[tuple[str, str], int] = defaultdict(int)
        for group in groups:
            key = (group.kind, group.schema)
            by_key[key].append(group)
            sizes[key] += len(group.objects)
            for grantee in group.grants:
                holders[grantee].add(key)
        return cls(dict(by_key), dict(holders), dict(sizes))


def _union(collections: list[frozenset[ObjectRef]]) -> frozenset[ObjectRef]:
    if len(collections) == 1:
        return collections[0]
    return frozenset().union(*collections)


def privilege_changes(
    target: str, grantee: str, principal: str, access: DesiredAccess, index: AclIndex, traits: Traits,
    name: str, host: str = "%",
) -> tuple[list[c.Change], list[str]]:
    """Grants and revokes that make `grantee` (the identity of role `name`) hold exactly `access`, plus errors
    for missing objects."""
    found: list[c.Change] = []
    errors: list[str] = []
    specials_by_key: dict[tuple[str, str], list[ObjectRef]] = defaultdict(list)
    for ref in set(access.explicit) | set(access.implied) | set(access.tolerated):
        specials_by_key[(ref.kind, ref.schema)].append(ref)
    keys = access.keys() | index.holders.get(grantee, set())
    for key in sorted(keys, key=lambda k: (KIND_ORDER.index(k[0]), k[1])):
        kind, schema = key
        want_rest = frozenset(access.wildcard.get(key, EMPTY))
        specials = specials_by_key.get(key, [])
        lack: dict[tuple[str, bool], list[frozenset[ObjectRef]]] = defaultdict(list)
        excess: dict[str, list[frozenset[ObjectRef]]] = defaultdict(list)
        located: set[ObjectRef] = set()
        # An empty schema is fine for `schema.*`: there is nothing to grant now, default privileges cover the
        # future (a missing schema is reported by the default privileges and the implied USAGE).
        for group in index.groups.get(key, []):
            have = group.grants.get(grantee, EMPTY)
            here = [ref for ref in specials if ref in group.objects]
            rest = group.objects.difference(here) if here else group.objects
            if rest:
                for p in want_rest - have:
                    lack[(p, False)].append(rest)
                for p in have - want_rest:
                    excess[p].append(rest)
            for ref in here:
                located.add(ref)
                _special(ref, want_rest, access, have, lack, excess)
        for ref in specials:
            if ref in located:
                continue
            if kind == COLUMN or ref.is_wildcard:
                # Columns are not all inspected; a database-level grant (MySQL db.*) needs no existing object.
                _special(ref, want_rest, access, EMPTY, lack, excess)
            else:
                errors.append(f"{principal}: {kind} {ref} does not exist on target {target}")
        total = index.sizes.get(key, 0) if traits.schema_wildcards else 0
        found += _bucketed(c.GrantPrivileges, target, principal, name, kind, schema, host, total,
                           {k: _union(v) for k, v in lack.items()}, want_rest)
        found += _bucketed(c.RevokePrivileges, target, principal, name, kind, schema, host, total,
                           {(p, False): _union(v) for p, v in excess.items()}, None)
    return found, errors


def _special(ref: ObjectRef, want_rest: frozenset[str], access: DesiredAccess, have: frozenset[str],
             lack: dict, excess: dict) -> None:
    declared = want_rest | access.explicit.get(ref, set())
    implied = access.implied.get(ref, set())
    for p in (declared | implied) - have:
        lack[(p, p not in declared)].append(frozenset((ref,)))
    for p in have - declared - implied - access.tolerated.get(ref, set()):
        excess[p].append(frozenset((ref,)))


def _bucketed(cls: type, target: str, principal: str, grantee: str, kind: str, schema: str, host: str,
              total: int, by_privilege: dict[tuple[str, bool], frozenset[ObjectRef]],
              wildcard: frozenset[str] | None) -> list[c.Change]:
    """One statement per distinct object set: privileges that apply to the same objects travel together.

    Grants of `schema.*` privileges use `ALL ... IN SCHEMA` (granting a privilege already held changes nothing,
    and one statement beats a list of thousands); revokes use it when they cover every object. Privileges of
    explicitly named objects are granted by name: they must not reach objects created after the plan.
    """
    buckets: dict[tuple[frozenset[ObjectRef], bool], list[str]] = defaultdict(list)
    for (privilege, implied), objects in by_privilege.items():
        buckets[(objects, implied)].append(privilege)
    result = []
    for (objects, implied), privs in buckets.items():
        ordered = tuple(sorted(objects))
        groups = _by_table(ordered) if kind == COLUMN else [ordered]
        for group in groups:
            result.append(cls(
                action=c.ADD if cls is c.GrantPrivileges else c.DESTROY,
                target=target, principal=principal, implied=implied, grantee=grantee, kind=kind, schema=schema,
                objects=group, privileges=tuple(sorted(privs)), host=host,
                all_in_schema=kind in ALL_IN_SCHEMA_KINDS and (
                    bool(wildcard) and set(privs) <= wildcard if wildcard is not None
                    else total > 1 and len(objects) == total),
            ))
    return sorted(result, key=lambda ch: (ch.implied is False, ch.objects, ch.privileges))


def _by_table(columns: tuple[ObjectRef, ...]) -> list[tuple[ObjectRef, ...]]:
    tables: dict[tuple[str, str], list[ObjectRef]] = defaultdict(list)
    for ref in columns:
        tables[(ref.schema, ref.name)].append(ref)
    return [tuple(v) for _, v in sorted(tables.items())]


def default_privilege_changes(
    target: Target, grantee: str, principal: str, access: DesiredAccess, state: CurrentState
) -> tuple[list[c.Change], list[str]]:
    db = state.database
    assert db is not None
    if not access.wildcard and not db.default_acls:
        return [], []
    desired: dict[tuple[str, str, str], frozenset[str]] = {}
    errors: list[str] = []
    for (kind, schema), privs in access.wildcard.items():
        if kind not in DEFAULTABLE:
            continue
        owners = target.default_privileges_for or ((db.schema_owners[schema],) if schema in db.schema_owners else ())
        if not owners:
            errors.append(f"{principal}: schema {schema!r} does not exist on target {target.name}")
        for owner in owners:
            desired[(owner, schema, kind)] = frozenset(privs)
    current: dict[tuple[str, str, str], frozenset[str]] = {}
    for entry in db.default_acls:
        if grantee in entry.grants:
            current[(entry.owner, entry.schema, entry.kind)] = entry.grants[grantee]
    found: list[c.Change] = []
    for key in sorted(set(desired) | set(current)):
        owner, schema, kind = key
        want, have = desired.get(key, EMPTY), current.get(key, EMPTY)
        for cls, privs in ((c.GrantDefaultPrivileges, want - have), (c.RevokeDefaultPrivileges, have - want)):
            if privs:
                found.append(cls(action=c.ADD if cls is c.GrantDefaultPrivileges else c.DESTROY,
                                 target=target.name, principal=principal, owner=owner, schema=schema, kind=kind,
                                 grantee=grantee, privileges=tuple(sorted(privs))))
    return found, errors


# ---------------------------------------------------------------- roles and secrets


def role_changes(target: Target, p: Principal, existing: RoleState | None, comment: str,
                 principal: str, traits: Traits, secret: str | None) -> list[c.Change]:
    base = {"target": target.name, "principal": principal, "host": p.host}
    if existing is None:
        found: list[c.Change] = [c.CreateRole(
            action=c.ADD, name=p.name, login=p.login, connection_limit=_limit(p.connection_limit), comment=comment,
            require_tls=p.require_tls, session_role=p.session_role, secret=secret, **base)]
        if traits.default_roles and p.login and p.member_of:
            found.append(c.SetDefaultRoles(action=c.ADD, name=p.name, old=(), new=tuple(sorted(p.member_of)), **base))
        return found
    found = []
    settings: list[tuple[str, object, object]] = [
        ("login", existing.login, p.login),
        ("connection_limit", existing.connection_limit, _limit(p.connection_limit)),
        ("attributes", tuple(sorted(existing.attributes)), ()),
        ("comment", existing.comment, comment),
        ("require_tls", existing.require_tls, p.require_tls),
        ("session_role", existing.session_role, p.session_role),
    ]
    if traits.default_roles and p.login and existing.default_roles != frozenset(p.member_of):
        found.append(c.SetDefaultRoles(action=c.CHANGE, name=p.name, old=tuple(sorted(existing.default_roles)),
                                       new=tuple(sorted(p.member_of)), **base))
    for setting, old, new in settings:
        if old != new:
            found.append(c.AlterRole(action=c.CHANGE, name=p.name, setting=setting, old=old, new=new, **base))
    return found


def _limit(value: int | None) -> int | None:
    return None if value is None or value < 0 else value


def membership_changes(target: str, p: Principal, existing: RoleState | None, principal: str) -> list[c.Change]:
    have = existing.member_of if existing else frozenset()
    want = frozenset(p.member_of)
    base = {"target": target, "principal": principal, "member": p.name, "host": p.host}
    return [c.GrantMembership(action=c.ADD, role=r, **base) for r in sorted(want - have)] + [
        c.RevokeMembership(action=c.DESTROY, role=r, **base) for r in sorted(have - want)
    ]


def secret_changes(
    target: Target, p: Principal, state: CurrentState, role_created: bool, options: DiffOptions
) -> tuple[list[c.Change], list[str]]:
    name = secret_name(p, target, _database(target, state))
    base = {"target": target.name, "principal": p.name, "secret": name}
    secret = state.secrets.get(name)
    fields = secret_fields(p, target, state.connection)
    tags = secret_tags(p)
    description = secret_description(p)
    warnings: list[str] = []
    found: list[c.Change] = []
    if (secret is None or secret.deleted) and p.adopted and not role_created and not options.create_secrets:
        return [], [f"adopted account {p.name} has no secret: `apply --create-secrets` creates {name} "
                    f"(with a new password, as the current one cannot be known)"]
    if secret is None or secret.deleted:
        found.append(c.CreateSecret(
            action=c.ADD, fields=fields, kms_key=p.secret.kms_key, description=description, tags=tags,
            password_length=p.password.length, exclude_characters=p.password.exclude_characters,
            reuse_existing=secret is not None, **base))
        if not role_created:
            found.append(c.SetPassword(action=c.CHANGE, name=p.name, host=p.host, secret=name, reason="new secret",
                                       target=target.name, principal=p.name))
            warnings.append(f"account {p.name} exists without a secret: it gets a new password, kept in {name}")
        found += rotation_changes(p, None, base)
        return found, warnings
    if (secret.target, secret.account) != (target.name, p.name):
        return [], [f"secret {name} is tagged for {secret.target}/{secret.account}; not touched"]
    # The user the secret names now: NAME or, for alternating accounts, possibly NAME_clone.
    username = str(secret.fields.get("username") or p.name)
    if username not in user_names(p):
        username = p.name
    fields["username"] = username
    sync = secret.tags.get(SYNC_TAG, "")
    if sync.startswith("version:") and not role_created:
        found.append(c.FinishPendingPassword(action=c.CHANGE, name=username, host=p.host,
                                             version=sync.removeprefix("version:"), **base))
    elif sync:
        found.append(c.ConfirmPassword(action=c.CHANGE, **base))
        if not role_created:
            found.append(c.SetPassword(action=c.CHANGE, name=username, host=p.host, secret=name,
                                       reason="confirm the password of an interrupted apply",
                                       target=target.name, principal=p.name))
    elif role_created:
        pass  # CreateRole takes the password of the existing secret
    elif p.name in options.reset_passwords or "*" in options.reset_passwords:
        found.append(c.ResetPassword(action=c.CHANGE, name=username, host=p.host, password_length=p.password.length,
                                     exclude_characters=p.password.exclude_characters, **base))
    current_fields = {k: v for k, v in secret.fields.items() if k in fields or k in ("dbname", "masterarn")}
    if _normal(current_fields) != _normal(fields) and (fields.get("host") is not None):
        found.append(c.UpdateSecret(action=c.CHANGE, setting="value", old=dict(current_fields), new=fields, **base))
    if (secret.description or "") != description:
        found.append(c.UpdateSecret(action=c.CHANGE, setting="description", old=secret.description,
                                    new=description, **base))
    if not same_kms_key(p.secret.kms_key, secret.kms_key):
        found.append(c.UpdateSecret(action=c.CHANGE, setting="kms_key", old=secret.kms_key, new=p.secret.kms_key,
                                    **base))
    current_tags = {k: v for k, v in secret.tags.items() if k not in INTERNAL_TAGS}
    if current_tags != tags:
        found.append(c.UpdateSecret(action=c.CHANGE, setting="tags", old=current_tags, new=tags, **base))
    found += rotation_changes(p, secret, base)
    return found, warnings


def rotation_changes(p: Principal, secret: SecretState | None, base: dict[str, str]) -> list[c.Change]:
    """RotateSecret / CancelRotateSecret when the secret's rotation differs from the manifest (semantically)."""
    settings = p.rotation
    enabled = bool(secret and secret.rotation_enabled)
    function = secret.rotation_lambda if secret else None
    rules = secret.rotation_rules if secret else {}
    recorded = secret.tags.get(ROTATION_TAG) if secret else None
    if schedule.in_sync(settings, enabled, function, rules, recorded):
        return []
    if settings.function is None or settings.strategy == "none":
        return [c.DisableRotation(action=c.CHANGE, **base)]
    was = "none (new secret)" if secret is None else describe_rotation(enabled, function, rules)
    return [c.ConfigureRotation(action=c.ADD if secret is None else c.CHANGE, function=settings.function,
                                rules=schedule.rotation_rules(settings), rotate_immediately=settings.rotate_immediately,
                                fingerprint=schedule.fingerprint(settings), was=was, **base)]


def describe_rotation(enabled: bool, function: str | None, rules: Mapping[str, object]) -> str:
    if not enabled and not function:
        return "disabled"
    shown = ", ".join(f"{k}={v}" for k, v in sorted(rules.items()))
    return f"{'enabled' if enabled else 'disabled'}, {function or 'no function'}, {shown or 'no rules'}"


def user_names(p: Principal) -> tuple[str, ...]:
    """The database users behind an account: NAME, plus NAME_clone for alternating rotation."""
    if p.login and p.rotation.strategy == "alternating":
        return (p.name, clone_name(p.name))
    return (p.name,)


def clone_name(name: str) -> str:
    return name + CLONE_SUFFIX


def group_name(name: str) -> str:
    return name + GROUP_SUFFIX


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
    if engine == "postgres":
        group = replace(p, name=group_name(p.name), login=False, connection_limit=None,
                        description=f"privileges of {p.name} and {clone_name(p.name)} (alternating rotation)")
        users = [replace(p, name=n, grants=(), member_of=(group.name,), session_role=group.name)
                 for n in user_names(p)]
        return [group, *users]
    return [replace(p, name=n) for n in user_names(p)]


def _normal(fields: Mapping[str, object]) -> dict[str, str]:
    return {k: str(v) for k, v in fields.items() if v is not None}


def _database(target: Target, state: CurrentState) -> str | None:
    return target.database or (str(state.connection["dbname"]) if state.connection.get("dbname") else None)


# ---------------------------------------------------------------- the target


def diff_target(
    target: Target, principals: Iterable[Principal], state: CurrentState, options: DiffOptions | None = None,
    traits: Traits | None = None,
) -> DiffResult:
    """Everything that must change on one target for the live state to match the manifest."""
    options = options or DiffOptions()
    traits = traits or Traits()
    db = state.database
    assert db is not None, "diff_target needs an inspected database"
    result = DiffResult()
    # Group roles carry the engine's role host part (MariaDB: '', MySQL: '%').
    principals = [p if p.login else replace(p, host=traits.role_host) for p in principals]
    present = sorted((p for p in principals if p.state == "present"), key=lambda p: (p.login, p.name))
    absent = [p for p in principals if p.state == "absent"]
    named = {traits.identity(m.name, m.host) for p in principals for m in database_principals(p, target.engine)}
    index = AclIndex.build(db.acl_groups)
    database = _database(target, state)
    dropped: set[str] = set()
    kept: set[str] = set()

    result.labels.update({p.name: p.kind for p in principals})
    members = [m for p in principals for m in database_principals(p, target.engine)]
    provided = provided_by(members, state, database, traits)
    for p in present:
        secret = secret_name(p, target, database) if p.login else None
        for member in database_principals(p, target.engine):
            holder = secret if member.name == p.name else None
            access = desired_access(member, database, traits, provided(member))
            _reconcile(target, member, p.name, state, index, access, traits, holder, result)
        if p.login and p.name != db.admin_user:
            created = traits.identity(p.name, p.host) not in db.roles
            found, warnings = secret_changes(target, p, state, created, options)
            result.changes += found
            result.warnings += warnings

    for p in absent:
        for member in database_principals(p, target.engine):
            key = traits.identity(member.name, member.host)
            role = db.roles.get(key)
            if role and member.name != db.admin_user:
                (dropped if _drop(target, key, role, state, index, traits, result) else kept).add(member.name)

    leaving = {key: role for key, role in sorted(db.roles.items()) if key not in named
               and (marker := parse_marker(role.comment)) and marker.target == target.name}
    leaving_names = {role.name for role in leaving.values()}
    for key, role in leaving.items():
        if parse_marker(role.comment).adopted:  # type: ignore[union-attr]
            result.warnings.append(f"{role.name} left the manifest; it was adopted, not created, so it is left as is")
            kept.add(role.name)
            continue
        owner = _account_of(role.name, leaving_names)
        (dropped if _drop(target, key, role, state, index, traits, result, owner) else kept).add(role.name)

    present_accounts = {p.name for p in present if p.login}
    in_database = {role.name for role in db.roles.values()}
    for secret in sorted(state.secrets.values(), key=lambda s: s.name):
        if secret.target != target.name or secret.deleted or secret.account in present_accounts:
            continue
        if secret.account in dropped or (secret.account not in in_database and secret.account not in kept):
            recovery = next((p.secret.recovery_days for p in absent if p.name == secret.account), 7)
            result.changes.append(c.DeleteSecret(action=c.DESTROY, target=target.name, principal=secret.account,
                                                 secret=secret.name, recovery_days=recovery))
    result.changes.sort(key=lambda ch: PHASE[type(ch)])
    return result


def _reconcile(target: Target, p: Principal, principal: str, state: CurrentState, index: AclIndex,
               access: DesiredAccess, traits: Traits, secret: str | None, result: DiffResult) -> None:
    """Role, membership and privilege changes for one database role of the manifest."""
    db = state.database
    assert db is not None
    key = traits.identity(p.name, p.host)
    existing = db.roles.get(key)
    if p.name == db.admin_user:
        result.errors.append(f"{p.name} is the admin account of target {target.name}; it is never managed")
        return
    marker = parse_marker(existing.comment) if existing else None
    if marker and marker.target != target.name:
        result.errors.append(f"role {p.name} is managed by target {marker.target!r} (same server); "
                             f"declare it under one target only")
        return
    adopted = existing is not None and (marker is None or marker.adopted)
    comment = role_comment(p.description, target.name, adopted)
    if p.adopted and existing is not None and marker is None:
        # Declared as adopted: manage its grants, leave its comment unless the manifest describes it.
        comment = p.description if p.description is not None else existing.comment  # type: ignore[assignment]
    result.changes += role_changes(target, p, existing, comment, principal, traits, secret)
    result.changes += membership_changes(target.name, p, existing, principal)
    found, errors = privilege_changes(target.name, key, principal, access, index, traits, p.name, p.host)
    result.changes += found
    result.errors += errors
    found, errors = default_privilege_changes(target, key, principal, access, state)
    result.changes += found
    result.errors += errors


def _account_of(name: str, names: set[str]) -> str:
    """The account a `_clone`/`_group` role belongs to, when that account goes too (for grouping in plans)."""
    for suffix in (CLONE_SUFFIX, GROUP_SUFFIX):
        if name.endswith(suffix) and name.removesuffix(suffix) in names:
            return name.removesuffix(suffix)
    return name


def _drop(target: Target, key: str, role: RoleState, state: CurrentState, index: AclIndex, traits: Traits,
          result: DiffResult, principal: str | None = None) -> bool:
    """Revoke everything the role holds, then drop it; False (and an error) when it owns objects."""
    name = role.name
    owner = principal or name
    if role.owned_objects:
        example = f" (e.g. {role.owned_example})" if role.owned_example else ""
        result.errors.append(
            f"{name} cannot be dropped: it owns {role.owned_objects} object(s){example}. Reassign them first "
            f"(REASSIGN OWNED BY {name} TO another_role) or drop them, then run apply again"
        )
        return False
    found, _ = privilege_changes(target.name, key, owner, DesiredAccess(), index, traits, name, role.host)
    result.changes += found
    found, _ = default_privilege_changes(target, key, owner, DesiredAccess(), state)
    result.changes += found
    result.changes += [c.RevokeMembership(action=c.DESTROY, target=target.name, principal=owner, role=r, member=name,
                                          host=role.host) for r in sorted(role.member_of)]
    result.changes.append(c.DropRole(action=c.DESTROY, target=target.name, principal=owner, name=name,
                                     host=role.host))
    result.labels.setdefault(owner, "account" if role.login else "role")
    return True
