"""The data model: desired state (from the manifest) and current state (from the live systems).

Plain frozen dataclasses, no behaviour beyond small derived properties. The loader builds the desired state,
the inspectors build the current state, and the diff compares the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from provisioner.core.kinds import ObjectKind, spec

# ---------------------------------------------------------------- where things come from


@dataclass(frozen=True)
class Location:
    """A place in a manifest file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# ---------------------------------------------------------------- desired state


@dataclass(frozen=True)
class AdminSource:
    """Where the admin credentials come from: a Secrets Manager secret or an env var holding a URL."""

    secret: str | None = None
    url_env: str | None = None
    iam_user: str | None = None  # RDS IAM authentication: a token from generate_db_auth_token as the password


@dataclass(frozen=True)
class Tls:
    mode: str = "prefer"
    ca: str | None = None


@dataclass(frozen=True)
class ConnInfo:
    """Where and as whom to connect. The password never appears in repr()."""

    engine: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str | None = None
    tls: Tls | None = None

    def as_user(self, user: str, password: str) -> ConnInfo:
        return ConnInfo(self.engine, self.host, self.port, user, password, self.dbname, self.tls)


@dataclass(frozen=True)
class Target:
    name: str
    engine: str  # postgres | mysql | mariadb
    admin: AdminSource
    host: str | None = None
    port: int | None = None
    database: str | None = None
    # PostgreSQL: the other databases of the cluster this target manages (grants with `database:`), beyond
    # `database`, where the admin connects and which grants name by default.
    other_databases: tuple[str, ...] = ()
    tls: Tls | None = None
    # Roles whose future objects get the default privileges of `schema.*` grants; empty = the schema owner.
    default_privileges_for: tuple[str, ...] = ()
    resource_id: str | None = None  # RDS resource id, for the rds-db:connect policy of IAM accounts
    # PostgreSQL: what PUBLIC must not hold (revoke) and must hold (grants), on the objects named only
    public_revoke: tuple[Grant, ...] = ()
    public_grants: tuple[Grant, ...] = ()
    location: Location | None = None


@dataclass(frozen=True)
class SecretSettings:
    name: str = "{target}/{account}"
    kms_key: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    recovery_days: int = 7
    description: str | None = None
    replica_regions: tuple[tuple[str, str], ...] = ()  # (region, KMS key there; '' = aws/secretsmanager), sorted


@dataclass(frozen=True)
class RotationSettings:
    strategy: str = "single"  # single | alternating | none
    schedule: str | None = None
    window: str | None = None
    function: str | None = None
    rotate_immediately: bool = False


@dataclass(frozen=True)
class PasswordPolicy:
    length: int = 32
    exclude_characters: str = ":/@\"'\\"


@dataclass(frozen=True, order=True)
class ObjectRef:
    """A database object. Databases and schemas: `name` only. Tables, sequences, functions: schema + name
    (`*` = every object of that kind in the schema, now and future). Columns: schema, table name, column.
    MySQL: `schema` is the database."""

    kind: ObjectKind
    schema: str
    name: str
    column: str = ""

    def __post_init__(self) -> None:
        # Hashed once: refs are dict keys and members of the keys of whole object sets (a batch of thousands of
        # tables is one key), where the generated __hash__ would build and hash the tuple on every lookup.
        object.__setattr__(self, "_hash", hash((self.kind, self.schema, self.name, self.column)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined, no-any-return]

    def __reduce__(self) -> tuple[type[ObjectRef], tuple[ObjectKind, str, str, str]]:
        # Rebuilt (and hashed again) when unpickled: string hashes differ from one process to another.
        return (ObjectRef, (self.kind, self.schema, self.name, self.column))

    @property
    def is_wildcard(self) -> bool:
        return self.name == "*"

    def __str__(self) -> str:
        if spec(self.kind).names_an_account:
            return f"'{self.name}'@'{self.column}'"
        base = f"{self.schema}.{self.name}" if self.schema else self.name
        return f"{base}({self.column})" if self.column else base


def ref_order(ref: ObjectRef) -> tuple[str, str, str, str]:  # the kind as its (str) value
    """ObjectRef's own order as a plain tuple: `sorted(refs, key=ref_order)` compares in C, where the dataclass's
    generated `__lt__` is a Python call per comparison (tens of millions in a large first apply: benchmarks/)."""
    return (ref.kind, ref.schema, ref.name, ref.column)


@dataclass(frozen=True)
class Grant:
    obj: ObjectRef
    privileges: frozenset[str]
    location: Location | None = None
    # Written as ALL: also every version-specific privilege the server has (PostgreSQL 17+: MAINTAIN).
    every: bool = False
    # PostgreSQL: the database of a schema object, when it is another of the target's `databases` than the one
    # the admin connects to ('' = that one; databases themselves are cluster-wide and always '').
    database: str = ""
    expires: datetime | None = None  # from then on the grant is treated as absent (SPEC 11)
    # `schema.*` only: object names of the schema (glob patterns, `tmp_*`) the wildcard does not reach
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Owned:
    """An object a role declares it owns (`owns:`): apply makes it the owner. A wildcard (`schema.*`) is every
    object of the kind in the schema when the plan is made."""

    obj: ObjectRef
    database: str = ""  # as Grant.database: '' = the database the admin connects to
    location: Location | None = None


@dataclass(frozen=True)
class RetireSettings:
    """How a role that owns objects leaves (PostgreSQL): its objects go to `reassign_owned_to`, optionally after
    its open sessions end."""

    reassign_owned_to: str | None = None
    terminate_sessions: bool = False


@dataclass(frozen=True)
class MembershipOptions:
    """How a member holds a role (PostgreSQL; `inherit` and `set` need 16+). None: not managed; admin defaults to
    False (the file never hands on a role without saying so)."""

    admin: bool = False
    inherit: bool | None = None
    set: bool | None = None

    def managed(self) -> tuple[tuple[str, bool], ...]:
        found = [("admin", self.admin), ("inherit", self.inherit), ("set", self.set)]
        return tuple((k, v) for k, v in found if v is not None)


@dataclass(frozen=True)
class Principal:
    """A database role/user the manifest declares: a login account or a non-login group role."""

    name: str
    target: str
    login: bool
    grants: tuple[Grant, ...] = ()
    member_of: tuple[str, ...] = ()
    # Options of memberships written as {role: ..., admin/inherit/set}; the others hold MembershipOptions().
    membership_options: tuple[tuple[str, MembershipOptions], ...] = ()
    connection_limit: int | None = None
    description: str | None = None
    host: str = "%"  # MySQL/MariaDB host part
    require_tls: bool = False
    auth: str = "password"  # password | iam (RDS IAM database authentication: no password, no secret)
    # PostgreSQL: the role a login switches to at connection (`ALTER ROLE .. SET role`), so that both users of
    # an alternating pair act as, and create objects owned by, their shared group role.
    session_role: str | None = None
    # Existed before the provisioner (imported with --adopt): its password is never reset and no secret is
    # created unless asked (`apply --create-secrets`); its comment is left alone unless a description is given.
    adopted: bool = False
    # PostgreSQL role attributes beyond LOGIN (SUPERUSER, CREATEDB, ...): authoritative, none unless listed.
    attributes: frozenset[str] = frozenset()
    # PostgreSQL configuration settings (database, parameter, value); database '' = every database. Authoritative.
    settings: tuple[tuple[str, str, str], ...] = ()
    state: str = "present"  # present | absent
    owns: tuple[Owned, ...] = ()  # roles only (PostgreSQL): what it owns, authoritative for those objects
    expires: datetime | None = None  # accounts: from then on treated as `state: absent` (SPEC 11)
    membership_expiry: tuple[tuple[str, datetime], ...] = ()  # (role, when) of `member_of` entries that expire
    retire: RetireSettings = field(default_factory=RetireSettings)
    secret: SecretSettings = field(default_factory=SecretSettings)
    rotation: RotationSettings = field(default_factory=RotationSettings)
    password: PasswordPolicy = field(default_factory=PasswordPolicy)
    location: Location | None = None

    @property
    def kind(self) -> str:
        return "account" if self.login else "role"


@dataclass(frozen=True)
class Manifest:
    targets: Mapping[str, Target]
    principals: tuple[Principal, ...]
    files: tuple[str, ...] = ()

    def for_target(self, target: str) -> tuple[Principal, ...]:
        return tuple(p for p in self.principals if p.target == target)


# ---------------------------------------------------------------- engine traits


@dataclass(frozen=True)
class Traits:
    """What the diff must know about an engine's model of accounts and grants (not its SQL)."""

    implied_grants: bool = False  # PostgreSQL: table privileges imply CONNECT and schema USAGE
    schema_wildcards: bool = False  # PostgreSQL: schema.* = every object now + default privileges for future ones
    default_roles: bool = False  # MySQL/MariaDB: granted roles are active at login only as default roles
    qualified_accounts: bool = False  # MySQL/MariaDB: accounts are 'user'@'host'
    role_host: str = "%"  # the host part of group roles ('' on MariaDB)
    # MySQL/MariaDB: DROP USER / DROP ROLE take every privilege and role grant with them (no revoke first).
    drop_takes_grants: bool = False
    # What ALL also means on this server, by object kind (PostgreSQL 17+: MAINTAIN on tables).
    all_extras: Mapping[ObjectKind, frozenset[str]] = field(default_factory=dict)
    # MariaDB: the database whose table holds the ownership markers (accounts have no comments); '' elsewhere.
    marker_table: str = ""
    # Privileges this server does not have yet, by kind: privilege -> the first major that has it
    requires: Mapping[ObjectKind, Mapping[str, int]] = field(default_factory=dict)
    server_major: int = 0  # 0: not known (offline)

    def identity(self, name: str, host: str) -> str:
        """The unique name of an account or role on the server (grantee strings use the same form)."""
        if not self.qualified_accounts:
            return name
        return "'" + name.replace("'", "''") + "'@'" + host.replace("'", "''") + "'"


# ---------------------------------------------------------------- current state


@dataclass(frozen=True)
class RoleState:
    name: str
    login: bool
    connection_limit: int | None = None  # None = unlimited
    comment: str | None = None
    # Role attributes beyond LOGIN that differ from a plain role (e.g. SUPERUSER, CREATEDB, NOINHERIT).
    attributes: frozenset[str] = frozenset()
    member_of: frozenset[str] = frozenset()
    owned_objects: int = 0  # objects it owns (PostgreSQL: in any database of the cluster)
    owned_example: str = ""
    # PostgreSQL, by database ('' = shared objects): objects it owns (empty: all of `owned_objects` are in the
    # connected database), and in other databases than the connected one its privileges and default-privilege
    # entries (DROP OWNED takes those of the database it runs in only).
    owned_in: Mapping[str, int] = field(default_factory=dict)
    held_in: Mapping[str, int] = field(default_factory=dict)
    host: str = "%"
    require_tls: bool = False
    session_role: str | None = None
    default_roles: frozenset[str] = frozenset()
    # "iam": RDS IAM authentication (PostgreSQL: a login member of rds_iam; MySQL: AWSAuthenticationPlugin)
    auth: str = "password"
    settings: tuple[tuple[str, str, str], ...] = ()  # (database, parameter, value), sorted; not `role`
    # PostgreSQL: role -> {"admin": .., "inherit": .., "set": ..} as the server holds them (inherit/set: 16+)
    membership_options: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    # PostgreSQL: whether the admin holds this role's privileges (DROP OWNED BY it, ALTER DEFAULT PRIVILEGES FOR
    # it) and may SET ROLE to it (revoke a grant it made): superusers and members, as the server answers.
    admin_holds: bool = True
    admin_can_become: bool = True


@dataclass(frozen=True)
class AclGroup:
    """Objects of one kind in one schema that share the same access list.

    The inspector groups objects server-side by identical ACL, so the common case (schema-wide grants: every
    table alike) is one group however many tables there are. `grants` maps grantee -> privileges held;
    `grant_options` grantee -> those of them held WITH GRANT OPTION (PostgreSQL; MySQL lists GRANT OPTION as a
    privilege of its own).
    """

    kind: ObjectKind
    schema: str
    objects: frozenset[ObjectRef]
    grants: Mapping[str, frozenset[str]]
    grant_options: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # PostgreSQL: privileges granted by a role other than the owner and the admin, whose REVOKE does not remove
    # them: grantee -> grantor -> privileges (not part of `grants`).
    foreign: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    # PostgreSQL tables, sequences, routines: their owner, who holds every privilege on them without a grant.
    owner: str = ""

    def grantees(self) -> set[str]:
        return set(self.grants) | set(self.foreign)


@dataclass(frozen=True)
class DefaultAcl:
    owner: str
    schema: str
    kind: ObjectKind
    grants: Mapping[str, frozenset[str]]


@dataclass
class DatabaseState:
    """What the inspector found in one target's database. `roles` is keyed by `Traits.identity`."""

    server_version: str
    admin_user: str
    roles: dict[str, RoleState]
    acl_groups: list[AclGroup]
    default_acls: list[DefaultAcl]
    schema_owners: dict[str, str]
    queries: int = 0
    name: str = ""  # the database (PostgreSQL; MySQL/MariaDB: '')
    # Objects that exist but no GRANT may name (PostgreSQL: untrusted languages), with why
    ungrantable: Mapping[ObjectRef, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretState:
    """A Secrets Manager secret that the provisioner manages (found by its tags)."""

    name: str
    arn: str
    target: str
    account: str
    tags: Mapping[str, str]
    kms_key: str | None
    description: str | None
    stages: Mapping[str, tuple[str, ...]]  # version id -> staging labels
    fields: Mapping[str, object]  # AWSCURRENT value without the password
    has_password: bool
    # Why AWSCURRENT cannot serve as credentials (not JSON, no password, ...): apply gives it a new password.
    problem: str | None = None
    # A version staged AWSPENDING with a new password that nothing finished (a rotation or an apply interrupted):
    # the database may hold it while AWSCURRENT does not log in. Apply finishes it with a new password.
    left_pending: str | None = None
    rotation_enabled: bool = False
    rotation_lambda: str | None = None
    rotation_rules: Mapping[str, object] = field(default_factory=dict)
    deleted: bool = False
    # Replicas in other regions: region -> (KMS key there, replication status); None: not read (the secret has
    # none the tool made and the manifest asks for none)
    replicas: Mapping[str, tuple[str, str]] | None = None


@dataclass
class CurrentState:
    database: DatabaseState | None
    secrets: dict[str, SecretState]  # by secret name
    connection: Mapping[str, object] = field(default_factory=dict)  # host/port/dbname the secrets should hold
    # PostgreSQL clusters: the target's other databases, by name. Each holds that database's ACL groups, default
    # ACLs, schema owners and the objects each role owns there; roles are the cluster's (those of `database`).
    others: dict[str, DatabaseState] = field(default_factory=dict)
