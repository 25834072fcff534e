"""The names and marks the provisioner gives things, defined once: the ownership marker in role comments, the
tags on secrets, the derived role names of alternating accounts, and secret names.

Nothing outside `core` defines a naming convention; every module that needs one imports it from here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from provisioner.core.engine_facts import facts
from provisioner.core.model import Principal, Target

# ---------------------------------------------------------------- the ownership marker (role comments)

MARKER = "managed by provisioner"
_MARKER_RE = re.compile(r"\[" + MARKER + r": target=(?P<target>[^,\]]*)(?P<adopted>, adopted)?\]\s*$")


@dataclass(frozen=True)
class Marker:
    target: str
    adopted: bool
    description: str


def role_comment(description: str | None, target: str, adopted: bool) -> str:
    marker = f"[{MARKER}: target={target}{', adopted' if adopted else ''}]"
    return f"{description} {marker}" if description else marker


@functools.cache  # a cluster's role comments are few distinct texts, each asked of many times per plan
def parse_marker(comment: str | None) -> Marker | None:
    if not comment:
        return None
    match = _MARKER_RE.search(comment)
    if not match:
        return None
    return Marker(match.group("target"), bool(match.group("adopted")), comment[: match.start()].rstrip())


@dataclass(frozen=True)
class DropScope:
    """The roles a plan of one target may drop: those whose marker names the target and that the manifest no
    longer keeps, and those it declares absent. Inspection reads what these own, and only these: on a shared
    cluster, counting the objects of every role costs more than the rest of a plan. `target=None`: every role."""

    target: str | None = None
    kept: frozenset[str] = frozenset()
    absent: frozenset[str] = frozenset()

    def may_drop(self, name: str, comment: str | None) -> bool:
        if self.target is None or name in self.absent:
            return True
        marker = parse_marker(comment)
        return name not in self.kept and marker is not None and marker.target == self.target


EVERY_ROLE = DropScope()


# MySQL/MariaDB without account comments (MariaDB): the marker of each account the tool created is a row of
# this database's `accounts` table, which only the admin may write (SPEC 8: grants reaching it are refused).
MARKER_DATABASE = "provisioner_meta"


# ---------------------------------------------------------------- secret tags

MANAGED_TAG = "provisioner:managed"
TARGET_TAG = "provisioner:target"
ACCOUNT_TAG = "provisioner:account"
SYNC_TAG = "provisioner:sync"  # "pending": secret written, database not confirmed; "version:ID": reset pending
SYNC_PENDING = "pending"
SYNC_VERSION_PREFIX = "version:"
ROTATION_TAG = "provisioner:rotation"  # fingerprint of the rotation configuration last applied
INTERNAL_TAGS = (SYNC_TAG, ROTATION_TAG)
# The regions a secret is replicated to, as the manifest asks (comma-separated): inspection reads the replicas
# (DescribeSecret, which ListSecrets does not answer) of the secrets that carry it or whose account asks for some.
REPLICAS_TAG = "provisioner:replicas"


def ownership_tags(target: str, account: str) -> dict[str, str]:
    return {MANAGED_TAG: "true", TARGET_TAG: target, ACCOUNT_TAG: account}


def secret_tags(principal: Principal) -> dict[str, str]:
    """The user's tags plus the ownership tags (which win), and the replica regions the manifest asks for."""
    tags = dict(principal.secret.tags)
    tags.update(ownership_tags(principal.target, principal.name))
    if principal.secret.replica_regions:
        tags[REPLICAS_TAG] = ",".join(region for region, _ in principal.secret.replica_regions)
    return tags


def sync_version(version: str) -> str:
    return SYNC_VERSION_PREFIX + version


# ---------------------------------------------------------------- the target lock

LOCK_PREFIX = "provisioner:"  # applies and rotations of a target take the lock of this name (hashed per engine)


# ---------------------------------------------------------------- derived role names

CLONE_SUFFIX = "_clone"
GROUP_SUFFIX = "_group"
DERIVED_SUFFIXES = (CLONE_SUFFIX, GROUP_SUFFIX)


def clone_name(name: str) -> str:
    return name + CLONE_SUFFIX


def group_name(name: str) -> str:
    return name + GROUP_SUFFIX


def alternate_username(username: str) -> str:
    """The other user of an alternating pair (AWS's naming): strip a trailing _clone, else append it."""
    return username.removesuffix(CLONE_SUFFIX) if username.endswith(CLONE_SUFFIX) else clone_name(username)


def user_names(p: Principal) -> tuple[str, ...]:
    """The database users behind an account: NAME, plus NAME_clone for alternating rotation."""
    if p.login and p.rotation.strategy == "alternating":
        return (p.name, clone_name(p.name))
    return (p.name,)


def derived_names(p: Principal, engine: str) -> tuple[str, ...]:
    """Role names the tool makes for a principal besides its own (clone; PostgreSQL: the shared group)."""
    if not (p.login and p.rotation.strategy == "alternating"):
        return ()
    return (clone_name(p.name), group_name(p.name)) if facts(engine).group_role_for_pairs else (clone_name(p.name),)


def account_of(name: str, names: set[str]) -> str:
    """The account a `_clone`/`_group` role belongs to, when that account is among `names`."""
    for suffix in DERIVED_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in names:
            return name.removesuffix(suffix)
    return name


# ---------------------------------------------------------------- secret names

SECRET_PLACEHOLDERS = ("target", "account", "engine", "database")


def secret_database(target: Target, connected_database: str | None) -> str | None:
    """The database a secret names: the target's `database`, else the one the admin connection uses."""
    return target.database or connected_database or None


def secret_name(principal: Principal, target: Target, database: str | None) -> str:
    """The one place a secret's name is made; `database` comes from `secret_database`."""
    return principal.secret.name.format(
        target=target.name, account=principal.name, engine=target.engine, database=database or "")


def secret_description(principal: Principal) -> str:
    return principal.secret.description or (
        f"Credentials of database account {principal.name} on target {principal.target} (managed by provisioner)")


def secret_name_needs_database(principal: Principal) -> bool:
    return "{database}" in principal.secret.name
