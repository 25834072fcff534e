"""Offline model for `provisioner diff`: what a manifest would leave behind, without a database or AWS.

`applied_state` starts from an empty server whose catalog is inferred from the manifests (every object they
name, plus stand-ins for "every other object" of a `schema.*`), plans the BASE manifest against it with the
real diff, and carries the plan out in memory. Diffing HEAD against that state gives the intended change, in
the same changes, SQL and renderers as a live plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import assert_never

from provisioner.core import changes as c
from provisioner.core.conventions import ROTATION_TAG
from provisioner.core.diff import DiffOptions, diff_target
from provisioner.core.diff.expiry import expired_additions
from provisioner.core.engine_facts import facts
from provisioner.core.kinds import ObjectKind, spec
from provisioner.core.model import (
    AclGroup,
    CurrentState,
    DatabaseState,
    DefaultAcl,
    Manifest,
    ObjectRef,
    Principal,
    RoleState,
    SecretState,
    Target,
    Traits,
)
from provisioner.core.plan import Plan, TargetPlan
from provisioner.engines import get_engine
from provisioner.pipeline.planning import steps_of

OTHERS = "(every other {kind})"  # stand-in objects of a schema that a `schema.*` grant covers


def connection_of(target: Target) -> dict[str, object]:
    """The host/port/database a secret would hold, as far as the manifest tells without credentials."""
    source = f"${target.admin.url_env}" if target.admin.url_env else f"secret {target.admin.secret}"
    # An IAM admin connects to the target's host, on the engine's port unless one is given.
    port = target.port or (facts(target.engine).default_port if target.admin.iam_user else f"(port from {source})")
    connection: dict[str, object] = {"host": target.host or f"(host from {source})", "port": port,
                                     "dbname": target.database}
    if target.admin.secret:
        connection["masterarn"] = f"(ARN of {target.admin.secret})"
    return connection


Catalog = dict[str, dict[ObjectRef, dict[str, set[str]]]]  # database ('' = the connected one) -> objects


def catalog(target: Target, principals: Iterable[Principal], traits: Traits) -> Catalog:
    """Every object the manifests mention, by database, with no grants yet."""
    objects: Catalog = {"": {}, **{name: {} for name in target.other_databases}}
    database = target.database or "(database)"
    if traits.implied_grants:
        for name in (database, *target.other_databases):
            objects[""][ObjectRef(ObjectKind.DATABASE, "", name)] = {}
    for p in principals:
        named = [(g.obj, g.database) for g in p.grants] + [(o.obj, o.database) for o in p.owns]
        for ref, scope in named:
            found = objects.setdefault(scope, {})
            if ref.is_wildcard and traits.schema_wildcards:
                # two stand-ins where one statement reaches every object of the schema (ALL ... IN SCHEMA)
                for i in (1, 2) if spec(ref.kind).in_schema_keyword else (1,):
                    name = OTHERS.format(kind=ref.kind) + ("" if i == 1 else " ")
                    found[ObjectRef(ref.kind, ref.schema, name)] = {}
            else:
                found[ref] = {}
            if traits.implied_grants and spec(ref.kind).implies_usage:
                found[ObjectRef(ObjectKind.SCHEMA, "", ref.schema)] = {}
    return objects


class Simulator:
    """Carries out plan changes on an in-memory server and secret store."""

    def __init__(self, target: Target, traits: Traits, objects: Catalog) -> None:
        self.target = target
        self.traits = traits
        self.catalog = objects
        self.roles: dict[str, RoleState] = {}
        self.defaults: dict[str, dict[tuple[str, str, ObjectKind], dict[str, set[str]]]] = defaultdict(
            lambda: defaultdict(dict))
        self.secrets: dict[str, SecretState] = {}
        self.owners: dict[str, dict[ObjectRef, str]] = defaultdict(dict)  # by database, as AlterOwner set them

    def _database(self, scope: str) -> DatabaseState:
        acl = self.catalog.get(scope, {})
        owners = self.owners[scope]
        groups = [AclGroup(ref.kind, ref.schema, frozenset({ref}), {g: frozenset(p) for g, p in grants.items() if p},
                           owner=owners.get(ref, "")) for ref, grants in acl.items()]
        schemas = {ref.name for ref in acl if ref.kind == ObjectKind.SCHEMA} | {ref.schema for ref in acl if ref.schema}
        schema_owners = {s: owners.get(ObjectRef(ObjectKind.SCHEMA, "", s), f"(owner of schema {s})") for s in schemas}
        return DatabaseState(
            server_version="(offline)", admin_user="", roles=dict(self.roles), acl_groups=groups,
            default_acls=[DefaultAcl(o, s, k, {g: frozenset(p) for g, p in grants.items() if p})
                          for (o, s, k), grants in self.defaults[scope].items()],
            schema_owners=schema_owners, name=scope)

    def state(self) -> CurrentState:
        others = {scope: self._database(scope) for scope in self.catalog if scope}
        return CurrentState(self._database(""), dict(self.secrets), connection_of(self.target), others=others)

    def apply(self, changes: Iterable[c.AnyChange]) -> None:
        for change in changes:
            self._apply(change)

    def _apply(self, ch: c.AnyChange) -> None:
        match ch:
            case c.CreateRole():
                self._create_role(ch)
            case c.AlterRole():
                self._alter_role(ch)
            case c.SetDefaultRoles():
                self._update_role(ch.name, ch.host, default_roles=frozenset(ch.new))
            case c.DropRole():
                self.roles.pop(self._key(ch.name, ch.host), None)
            case c.GrantMembership():
                self._membership(ch.member, ch.host, ch.role, grant=True)
            case c.RevokeMembership():
                self._membership(ch.member, ch.host, ch.role, grant=False)
            case c.GrantPrivileges() | c.RevokePrivileges() | c.RestoreColumnPrivileges():
                self._privileges(ch)
            case c.AlterOwner():
                self.owners[ch.database][ch.obj] = ch.owner
                self.catalog.setdefault(ch.database, {}).get(ch.obj, {}).pop(self._key(ch.owner, "%"), None)
            case c.DropOwned():
                self._drop_owned(self._key(ch.name, "%"), ch.database)
            case c.GrantDefaultPrivileges() | c.RevokeDefaultPrivileges():
                self._default_privileges(ch)
            case c.CreateSecret():
                self._create_secret(ch)
            case c.UpdateSecret():
                self._update_secret(ch)
            case c.ConfigureRotation():
                self._configure_rotation(ch)
            case c.DisableRotation():
                self._disable_rotation(ch)
            case c.DeleteSecret():
                self.secrets[ch.secret] = replace(self.secrets[ch.secret], deleted=True)
            case (c.SetPassword() | c.ResetPassword() | c.FinishPendingPassword() | c.ConfirmPassword()
                  | c.RevokeGrantOption() | c.AlterMembership() | c.TerminateSessions() | c.ReassignOwned()):
                pass  # passwords and grant options leave no trace in the simulated catalog
            case _:
                assert_never(ch)

    def _key(self, name: str, host: str) -> str:
        return self.traits.identity(name, host)

    def _create_role(self, ch: c.CreateRole) -> None:
        self.roles[self._key(ch.name, ch.host)] = RoleState(
            name=ch.name, host=ch.host, login=ch.login, connection_limit=ch.connection_limit, comment=ch.comment,
            require_tls=ch.require_tls, session_role=ch.session_role, attributes=frozenset(ch.attributes))

    def _alter_role(self, ch: c.AlterRole) -> None:
        value = frozenset(ch.to.value) if isinstance(ch.to, c.Attributes) else ch.new
        self._update_role(ch.name, ch.host, **{ch.setting: value})

    def _update_role(self, name: str, host: str, **values: object) -> None:
        key = self._key(name, host)
        self.roles[key] = replace(self.roles[key], **values)  # type: ignore[arg-type]

    def _membership(self, member: str, host: str, role: str, grant: bool) -> None:
        key = self._key(member, host)
        if key in self.roles:
            held = self.roles[key].member_of
            self._update_role(member, host, member_of=held | {role} if grant else held - {role})

    def _drop_owned(self, grantee: str, scope: str) -> None:
        for holders in [*self.catalog.get(scope, {}).values(), *self.defaults[scope].values()]:
            holders.pop(grantee, None)

    def _objects(self, ch: c.GrantPrivileges | c.RevokePrivileges | c.RestoreColumnPrivileges) -> list[ObjectRef]:
        if ch.all_in_schema:
            return [ref for ref in self.catalog.get(ch.database, {}) if (ref.kind, ref.schema) == (ch.kind, ch.schema)]
        return list(ch.objects)

    def _privileges(self, ch: c.GrantPrivileges | c.RevokePrivileges | c.RestoreColumnPrivileges) -> None:
        grantee = self._key(ch.grantee, ch.host)
        acl = self.catalog.setdefault(ch.database, {})
        for ref in self._objects(ch):
            if not isinstance(ch, c.RevokePrivileges):
                acl.setdefault(ref, {}).setdefault(grantee, set()).update(ch.privileges)
            else:
                acl.get(ref, {}).get(grantee, set()).difference_update(ch.privileges)

    def _default_privileges(self, ch: c.GrantDefaultPrivileges | c.RevokeDefaultPrivileges) -> None:
        entry = self.defaults[ch.database][(ch.owner, ch.schema, ch.kind)]
        if isinstance(ch, c.GrantDefaultPrivileges):
            entry.setdefault(ch.grantee, set()).update(ch.privileges)
        else:
            entry.get(ch.grantee, set()).difference_update(ch.privileges)

    def _create_secret(self, ch: c.CreateSecret) -> None:
        self.secrets[ch.secret] = SecretState(
            name=ch.secret, arn=f"(ARN of {ch.secret})", target=ch.target, account=ch.principal, tags=dict(ch.tags),
            kms_key=ch.kms_key, description=ch.description, stages={"(version)": ("AWSCURRENT",)},
            fields=dict(ch.fields), has_password=True)

    def _update_secret(self, ch: c.UpdateSecret) -> None:
        secret = self.secrets[ch.secret]
        if isinstance(ch.to, c.SecretReplicas):
            self.secrets[ch.secret] = replace(secret, replicas={r: (k, "InSync") for r, k in ch.to.value})
            return
        field = {"value": "fields", "kms_key": "kms_key", "description": "description", "tags": "tags"}[ch.setting]
        self.secrets[ch.secret] = replace(secret, **{field: ch.new})  # type: ignore[arg-type]

    def _configure_rotation(self, ch: c.ConfigureRotation) -> None:
        secret = self.secrets[ch.secret]
        self.secrets[ch.secret] = replace(secret, rotation_enabled=True, rotation_lambda=ch.function,
                                          rotation_rules=dict(ch.rules),
                                          tags={**secret.tags, ROTATION_TAG: ch.fingerprint})

    def _disable_rotation(self, ch: c.DisableRotation) -> None:
        secret = self.secrets[ch.secret]
        tags = {k: v for k, v in secret.tags.items() if k != ROTATION_TAG}
        self.secrets[ch.secret] = replace(secret, rotation_enabled=False, tags=tags)



def offline_plan(base: Manifest, head: Manifest, target_names: Iterable[str] | None = None,
                 now: datetime | None = None) -> Plan:
    """The intended change from BASE to HEAD, target by target, computed from the manifests alone (expiry judged
    at `now`: an item HEAD adds that has already expired is an error)."""
    names = sorted(set(head.targets) | set(base.targets))
    if target_names:
        names = [n for n in names if n in set(target_names)]
    plans = []
    for name in names:
        if name not in head.targets:
            removed = base.targets[name]
            plans.append(TargetPlan(name, removed.engine, warnings=[
                f"target {name} left the manifest: provisioner stops managing it and changes nothing there"]))
            continue
        target = head.targets[name]
        engine = get_engine(target.engine)
        traits = engine.traits
        before = base.for_target(name) if name in base.targets else ()
        after = head.for_target(name)
        state = applied_state(target, before, after, traits, now)
        result = diff_target(target, after, state, DiffOptions(now=now), traits)
        plan = TargetPlan(name, target.engine, warnings=result.warnings + renames(before, after),
                          errors=result.errors + expired_additions(list(before), list(after), now),
                          labels=result.labels)
        plan.steps = steps_of(engine, result.changes)
        plans.append(plan)
    return Plan(plans, mode="diff")


def renames(before: Iterable[Principal], after: Iterable[Principal]) -> list[str]:
    """Warnings for a removed and an added account that look alike: a rename is a drop and a create."""
    def shape(p: Principal) -> tuple[object, ...]:
        return (p.login, frozenset((g.obj, g.privileges) for g in p.grants), frozenset(p.member_of))

    old = {p.name: p for p in before if p.state == "present"}
    new = {p.name: p for p in after if p.state == "present"}
    warnings = []
    for gone in sorted(set(old) - set(new)):
        for came in sorted(set(new) - set(old)):
            if shape(old[gone]) == shape(new[came]):
                warnings.append(
                    f"{gone} -> {came} looks like a rename: provisioner drops {gone} (its secret is scheduled for "
                    f"deletion) and creates {came} with a new password and secret; move the applications first")
    return warnings


def applied_state(target: Target, base: Iterable[Principal], head: Iterable[Principal], traits: Traits,
                  now: datetime | None = None) -> CurrentState:
    """The state BASE leaves behind on a server whose catalog both manifests describe."""
    base = list(base)
    objects = catalog(target, [*base, *head], traits)
    simulator = Simulator(target, traits, objects)
    result = diff_target(target, base, simulator.state(), DiffOptions(now=now), traits)
    simulator.apply(result.changes)
    return simulator.state()

