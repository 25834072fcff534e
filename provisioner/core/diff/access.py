"""What one principal should hold: declared objects, implied ones (CONNECT, schema USAGE) and schema wildcards,
and which implied privileges reach it anyway (through PUBLIC or a role of the manifest it is a member of).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from provisioner.core.kinds import ObjectKind, spec
from provisioner.core.model import DatabaseState, Grant, ObjectRef, Principal, Traits

Provided = Callable[[ObjectRef, str], bool]


@dataclass
class DesiredAccess:
    """What one principal should hold, split into declared objects, implied ones and schema wildcards."""

    explicit: dict[ObjectRef, set[str]] = field(default_factory=lambda: defaultdict(set))
    implied: dict[ObjectRef, set[str]] = field(default_factory=lambda: defaultdict(set))
    wildcard: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    # Implied privileges the principal has anyway (through PUBLIC or a role it is a member of): not granted,
    # but not revoked either when held.
    tolerated: dict[ObjectRef, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Each `schema.*` grant with its `except:` patterns, by (kind, schema); and, once the objects are known
    # (`grants.exempted`), the privileges of the wildcard each excepted object does not get
    exceptions: dict[tuple[str, str], list[tuple[frozenset[str], tuple[str, ...]]]] = field(
        default_factory=lambda: defaultdict(list))
    exempt: dict[ObjectRef, frozenset[str]] = field(default_factory=dict)

    def keys(self) -> set[tuple[str, str]]:
        refs = list(self.explicit) + list(self.implied) + list(self.tolerated)
        return {(r.kind, r.schema) for r in refs} | set(self.wildcard)


def desired_access(principal: Principal, database: str | None, traits: Traits,
                   provided: Provided | None = None, scope: str = "") -> DesiredAccess:
    """What `principal` should hold on the objects of one database: the connected one (`scope` ''), whose pass
    also decides the CONNECT every database its grants reach implies (cluster-wide objects), or another."""
    access = DesiredAccess()
    for grant in principal.grants:
        ref = grant.obj
        if grant.database != scope:
            if traits.implied_grants and database and not scope:
                access.implied[ObjectRef(ObjectKind.DATABASE, "", grant.database)].add("CONNECT")
            continue
        wanted = grant.privileges | traits.all_extras.get(ref.kind, frozenset()) if grant.every else grant.privileges
        if ref.is_wildcard and traits.schema_wildcards:
            access.wildcard[(ref.kind, ref.schema)] |= wanted
            access.exceptions[(ref.kind, ref.schema)].append((frozenset(wanted), grant.excluded))
        else:
            # MySQL/MariaDB: `db.*` is itself one grant (database level), which covers future tables natively.
            access.explicit[ref] |= wanted
        if not traits.implied_grants:
            continue
        if spec(ref.kind).implies_usage:
            access.implied[ObjectRef(ObjectKind.SCHEMA, "", ref.schema)].add("USAGE")
        if database and spec(ref.kind).implies_connect:
            access.implied[ObjectRef(ObjectKind.DATABASE, "", database)].add("CONNECT")
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


def _too_new(grant: Grant, traits: Traits) -> dict[str, int]:
    later = traits.requires.get(grant.obj.kind, {})
    # ALL on a kind none of whose privileges this server has (parameters before 15) means those
    wanted = grant.privileges or (frozenset(later) if grant.every else frozenset())
    return {privilege: later[privilege] for privilege in wanted & later.keys()}


def too_new(principal: Principal, traits: Traits, label: str) -> tuple[Principal, list[str]]:
    """The principal without its grants of privileges this server does not have yet (PostgreSQL 14: SET on
    parameters), and an error for each, once."""
    found: dict[tuple[ObjectKind, str], int] = {}
    kept = []
    for grant in principal.grants:
        missing = _too_new(grant, traits)
        found.update({(grant.obj.kind, privilege): first for privilege, first in missing.items()})
        if not missing:
            kept.append(grant)
    by_version: dict[tuple[ObjectKind, int], list[str]] = defaultdict(list)
    for (kind, privilege), first in sorted(found.items()):
        by_version[(kind, first)].append(privilege)
    if not found:
        return principal, []
    return replace(principal, grants=tuple(kept)), [
        f"{principal.name}: {', '.join(privileges)} on a {kind} needs {label} {first} or later (this server runs "
        f"{label} {traits.server_major})" for (kind, first), privileges in by_version.items()]


PublicPairs = set[tuple[ObjectRef, str]]


def inherited_roles(p: Principal) -> list[str]:
    """The roles whose privileges `p` uses without SET ROLE: not those held with `inherit: false` (PostgreSQL
    16+), nor any when it is NOINHERIT and the membership does not say otherwise."""
    options = dict(p.membership_options)
    found = []
    for role in p.member_of:
        inherit = options[role].inherit if role in options else None
        if inherit is None:
            inherit = "NOINHERIT" not in p.attributes
        if inherit:
            found.append(role)
    return found


def provided_by(principals: list[Principal], db: DatabaseState, database: str | None, traits: Traits,
                public_declared: tuple[PublicPairs, PublicPairs] = (set(), set()), scope: str = ""
                ) -> Callable[[Principal], Provided]:
    """For each principal: whether an implied privilege reaches it anyway — through PUBLIC (e.g. CONNECT on a
    database, which PostgreSQL grants to PUBLIC by default) or through a role of the manifest it is a member of
    (roles inherit). `db` is the database of `scope` (see `desired_access`)."""
    # What PUBLIC holds after this apply: as found, less what the target revokes from it, plus what it grants.
    revoked, granted = public_declared
    public = {(ref, p) for g in db.acl_groups if g.kind in (ObjectKind.DATABASE, ObjectKind.SCHEMA)
              for ref in g.objects for p in g.grants.get("PUBLIC", ())} - revoked | granted
    roles = {p.name: p for p in principals if not p.login and p.state == "present"}
    own: dict[str, DesiredAccess] = {}  # the access of each role some principal inherits, when first asked

    def access_of(name: str) -> DesiredAccess:
        if name not in own:
            own[name] = desired_access(roles[name], database, traits, scope=scope)
        return own[name]

    def closure(p: Principal) -> set[str]:
        seen: set[str] = set()
        todo = [r for r in inherited_roles(p) if r in roles]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += [r for r in inherited_roles(roles[name]) if r in roles]
        return seen

    def for_principal(p: Principal) -> Provided:
        inherited = closure(p)

        def provided(ref: ObjectRef, privilege: str) -> bool:
            if (ref, privilege) in public:
                return True
            return any(privilege in access_of(r).explicit.get(ref, ()) or privilege in access_of(r).implied.get(ref, ())
                       for r in inherited)

        return provided

    return for_principal
