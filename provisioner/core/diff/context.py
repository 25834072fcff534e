"""What every part of one target's diff shares: the target, the inspected state, the engine's traits, the
options, and the findings (changes, warnings and errors together, one way to return them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from provisioner.core import changes as c
from provisioner.core.model import AclGroup, CurrentState, DatabaseState, ObjectRef, Target, Traits, ref_order


@dataclass(frozen=True)
class DiffOptions:
    reset_passwords: frozenset[str] = frozenset()  # account names; "*" = every account
    create_secrets: bool = False  # adopted accounts without a secret get one (and so a new password)
    now: datetime | None = None  # the instant `expires:` is judged at (None: expiry is not applied)


@dataclass
class DiffResult:
    changes: list[c.AnyChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # principal -> "account" | "role", for renderers


@dataclass
class AclIndex:
    """Current ACL groups by (kind, schema); which keys each grantee holds something in, the groups it holds
    something in, and the group of each object (so a principal without wildcards visits only the groups that
    concern it: the cost follows what it holds and names, not the size of the schema)."""

    groups: dict[tuple[str, str], list[AclGroup]]
    holders: dict[str, set[tuple[str, str]]]
    sizes: dict[tuple[str, str], int]
    held: dict[tuple[str, tuple[str, str]], list[AclGroup]] = field(default_factory=dict)
    group_of: dict[ObjectRef, list[AclGroup]] = field(default_factory=dict)
    position: dict[int, int] = field(default_factory=dict)  # id(group) -> its place in `groups` of its key
    # Object sets in order, by set: every role lacking the same privilege on a group shares that group's set.
    ordered: dict[frozenset[ObjectRef], tuple[ObjectRef, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, groups: Iterable[AclGroup]) -> AclIndex:
        by_key: dict[tuple[str, str], list[AclGroup]] = defaultdict(list)
        holders: dict[str, set[tuple[str, str]]] = defaultdict(set)
        sizes: dict[tuple[str, str], int] = defaultdict(int)
        held: dict[tuple[str, tuple[str, str]], list[AclGroup]] = defaultdict(list)
        group_of: dict[ObjectRef, list[AclGroup]] = defaultdict(list)
        position: dict[int, int] = {}
        for group in groups:
            key = (group.kind, group.schema)
            position[id(group)] = len(by_key[key])
            by_key[key].append(group)
            sizes[key] += len(group.objects)
            for grantee in group.grantees():
                holders[grantee].add(key)
                held[(grantee, key)].append(group)
            for ref in group.objects:
                group_of[ref].append(group)
        return cls(dict(by_key), dict(holders), dict(sizes), dict(held), dict(group_of), position)

    def in_order(self, objects: frozenset[ObjectRef]) -> tuple[ObjectRef, ...]:
        found = self.ordered.get(objects)
        if found is None:
            found = self.ordered[objects] = tuple(sorted(objects, key=ref_order))
        return found

    def concerning(self, identity: str, key: tuple[str, str], named: list[ObjectRef]) -> list[AclGroup]:
        """The groups of `key` where `identity` holds something or that contain a `named` object, in index order."""
        chosen = {id(g): g for g in self.held.get((identity, key), [])}
        for ref in named:
            chosen.update((id(g), g) for g in self.group_of.get(ref, []))
        return sorted(chosen.values(), key=lambda g: self.position[id(g)])


@dataclass(frozen=True)
class Grantee:
    """A database role as the diff addresses it: its name and host part, its identity on the server (the key of
    `DatabaseState.roles` and of ACL grants), and the manifest principal its changes are listed under."""

    name: str
    host: str
    identity: str
    principal: str


@dataclass
class DiffContext:
    target: Target
    state: CurrentState
    db: DatabaseState
    traits: Traits
    options: DiffOptions
    index: AclIndex
    database: str | None  # the database implied CONNECT and secret names refer to
    result: DiffResult = field(default_factory=DiffResult)
    # schema -> the roles whose future objects get the default privileges of `schema.*` (see `creators`)
    creators: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # roles the manifest keeps (present): they exist by the time later steps of the apply run
    present: set[str] = field(default_factory=set)
    # PostgreSQL clusters: the database whose objects this context diffs, when it is not the connected one ('')
    scope: str = ""
    # the contexts of the target's other databases (on the connected database's context only), by name
    subs: dict[str, DiffContext] = field(default_factory=dict)

    @property
    def place(self) -> str:
        """Where this context's objects are, for messages."""
        return f"target {self.target.name}" + (f" (database {self.scope})" if self.scope else "")

    def every_database(self) -> list[DiffContext]:
        """This context and those of the target's other databases."""
        return [self, *self.subs.values()]

    def other_database(self, name: str, db: DatabaseState) -> DiffContext:
        """The context of another database of the cluster: its own objects and findings, the same roles."""
        return DiffContext(target=self.target, state=self.state, db=db, traits=self.traits, options=self.options,
                           index=AclIndex.build(db.acl_groups), database=None, present=self.present, scope=name)

    def grantee(self, name: str, host: str, principal: str | None = None) -> Grantee:
        return Grantee(name, host, self.traits.identity(name, host), principal or name)
