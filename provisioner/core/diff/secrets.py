"""Secret changes of one login account: create, confirm an interrupted apply, reset or finish a password,
keep the credential JSON, description, KMS key and tags in line, and configure rotation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provisioner.core import changes as c
from provisioner.core import schedule
from provisioner.core.binding import BINDING_TAG, endpoint_of, record
from provisioner.core.conventions import (
    INTERNAL_TAGS,
    ROTATION_TAG,
    SYNC_TAG,
    SYNC_VERSION_PREFIX,
    secret_description,
    secret_name,
    secret_tags,
    user_names,
)
from provisioner.core.diff.context import DiffContext
from provisioner.core.model import Principal, SecretState
from provisioner.core.secret_value import USERNAME, fields_for


def same_kms_key(desired: str | None, current: str | None) -> bool:
    if not desired:
        return not current or current.endswith("aws/secretsmanager")
    if not current:
        return False
    return current == desired or current.endswith(":" + desired) or current.endswith("/" + desired)


def desired_tags(p: Principal, fields: dict[str, object]) -> dict[str, str]:
    """The user's tags, the ownership tags and the binding: where apply puts the account (`core.binding`)."""
    return {**secret_tags(p), BINDING_TAG: record(endpoint_of(fields, p.name, p.host))}


def secret_changes(ctx: DiffContext, p: Principal, role_created: bool) -> None:
    name = secret_name(p, ctx.target, ctx.database)
    secret = ctx.state.secrets.get(name)
    if (secret is None or secret.deleted) and p.adopted and not role_created and not ctx.options.create_secrets:
        ctx.result.warnings.append(f"adopted account {p.name} has no secret: `apply --create-secrets` creates "
                                   f"{name} (with a new password, as the current one cannot be known)")
        return
    if secret is not None and not secret.deleted and (secret.target, secret.account) != (ctx.target.name, p.name):
        # SPEC 8: one secret, one account. Another principal's secret is never written.
        ctx.result.errors.append(
            f"{p.name}: its secret {name} belongs to account {secret.account!r} of target {secret.target!r} (its "
            f"provisioner:account and provisioner:target tags): two accounts would share one password; give one "
            f"of them another `secret: {{name: ...}}`")
        return
    if secret is None or secret.deleted:
        _new_secret(ctx, p, name, secret, role_created)
        return
    base: dict[str, Any] = {"target": ctx.target.name, "principal": p.name, "secret": name}
    if role_created and unusable(p, secret) and not secret.tags.get(SYNC_TAG):
        # The account is created now: its secret is written afresh first, as a new one would be.
        _new_secret(ctx, p, name, secret, role_created)
        return
    ctx.result.changes += _password_changes(ctx, p, secret, role_created, base)
    ctx.result.changes += _metadata_changes(ctx, p, secret, base)
    ctx.result.changes += rotation_changes(p, secret, base)


def _new_secret(ctx: DiffContext, p: Principal, name: str, secret: SecretState | None, role_created: bool) -> None:
    base: dict[str, Any] = {"target": ctx.target.name, "principal": p.name, "secret": name}
    fields = fields_for(p, ctx.target, ctx.state.connection)
    ctx.result.changes.append(c.CreateSecret(
        action=c.ADD, fields=fields, kms_key=p.secret.kms_key,
        description=secret_description(p), tags=desired_tags(p, fields), password_length=p.password.length,
        exclude_characters=p.password.exclude_characters, reuse_existing=secret is not None, **base))
    if not role_created:
        ctx.result.changes.append(c.SetPassword(action=c.CHANGE, name=p.name, host=p.host, secret=name,
                                                reason="new secret", target=ctx.target.name, principal=p.name))
        ctx.result.warnings.append(f"account {p.name} exists without a secret: it gets a new password, kept in "
                                   f"{name}")
    live = secret if secret is not None and not secret.deleted else None
    if p.secret.replica_regions:
        ctx.result.changes.append(c.UpdateSecret(action=c.ADD, was=c.SecretReplicas(()),
                                                 to=c.SecretReplicas(p.secret.replica_regions), **base))
    ctx.result.changes += rotation_changes(p, live, base)


def current_username(p: Principal, secret: SecretState) -> str:
    """The user the secret names now: NAME or, for alternating accounts, possibly NAME_clone."""
    username = str(secret.fields.get(USERNAME) or p.name)
    return username if username in user_names(p) else p.name


def unusable(p: Principal, secret: SecretState) -> str | None:
    """Why AWSCURRENT cannot log in as one of the account's users, whatever the database holds: a value that is
    not usable credentials, or a user the account no longer has (an alternating account turned single while
    NAME_clone was current: the clone goes, its password cannot log in as NAME)."""
    if secret.problem:
        return secret.problem
    username = secret.fields.get(USERNAME)
    if username not in user_names(p):
        return f"it names user {str(username)[:80]!r}, which account {p.name} does not have (now)"
    return None


def _password_changes(ctx: DiffContext, p: Principal, secret: SecretState, role_created: bool,
                      base: dict[str, Any]) -> list[c.AnyChange]:
    username = current_username(p, secret)
    sync = secret.tags.get(SYNC_TAG, "")
    reset = p.name in ctx.options.reset_passwords or "*" in ctx.options.reset_passwords
    broken = unusable(p, secret)
    if sync.startswith(SYNC_VERSION_PREFIX) and not role_created:
        return [c.FinishPendingPassword(action=c.CHANGE, name=username, host=p.host,
                                        version=sync.removeprefix(SYNC_VERSION_PREFIX), **base)]
    if sync and not broken:
        found: list[c.AnyChange] = [c.ConfirmPassword(action=c.CHANGE, **base)]
        if not role_created:
            found.append(c.SetPassword(action=c.CHANGE, name=username, host=p.host, secret=base["secret"],
                                       reason="confirm the password of an interrupted apply",
                                       target=ctx.target.name, principal=p.name))
        return found
    if role_created:
        return []  # CreateRole takes the password of the existing secret
    left = secret.left_pending
    if reset or broken or left:
        fields = fields_for(p, ctx.target, ctx.state.connection)
        fields[USERNAME] = username
        # A pending version nobody finished is never finished with its own password (whoever may put a value
        # could have staged one they know): a new one replaces it, and AWSCURRENT logs in again.
        reason = (f"the secret's value cannot log in: {broken}" if broken else "asked for (--reset-password)"
                  if reset else f"a rotation or password change left version {left} pending: finished with a new "
                                f"password")
        return [c.ResetPassword(action=c.CHANGE, name=username, host=p.host, password_length=p.password.length,
                                exclude_characters=p.password.exclude_characters, fields=fields, reason=reason,
                                **base)]
    return []


def _metadata_changes(ctx: DiffContext, p: Principal, secret: SecretState, base: dict[str, Any]
                      ) -> list[c.AnyChange]:
    fields = fields_for(p, ctx.target, ctx.state.connection)
    fields[USERNAME] = current_username(p, secret)
    description = secret_description(p)
    tags = desired_tags(p, fields)
    found: list[c.AnyChange] = []
    current_fields = {k: v for k, v in secret.fields.items() if k in fields or k in ("dbname", "masterarn")}
    # A broken value is rewritten whole by its new password (ResetPassword carries the fields).
    if not unusable(p, secret) and _normal(current_fields) != _normal(fields) and fields.get("host") is not None:
        found.append(c.UpdateSecret(action=c.CHANGE, was=c.SecretFields(dict(current_fields)),
                                    to=c.SecretFields(fields), **base))
    if (secret.description or "") != description:
        found.append(c.UpdateSecret(action=c.CHANGE, was=c.SecretDescription(secret.description),
                                    to=c.SecretDescription(description), **base))
    if not same_kms_key(p.secret.kms_key, secret.kms_key):
        found.append(c.UpdateSecret(action=c.CHANGE, was=c.SecretKmsKey(secret.kms_key),
                                    to=c.SecretKmsKey(p.secret.kms_key), **base))
    replicas = replica_change(p, secret)
    if replicas is not None:
        found.append(c.UpdateSecret(action=c.CHANGE, was=c.SecretReplicas(replicas), to=c.SecretReplicas(
            p.secret.replica_regions), **base))
    current_tags = {k: v for k, v in secret.tags.items() if k not in INTERNAL_TAGS}
    if current_tags != tags:
        found.append(c.UpdateSecret(action=c.CHANGE, was=c.SecretTags(current_tags), to=c.SecretTags(tags), **base))
    return found


def replica_change(p: Principal, secret: SecretState) -> tuple[tuple[str, str], ...] | None:
    """The replicas the secret has, when they are not those the manifest asks for (None: they are)."""
    current = {region: kms for region, (kms, _) in (secret.replicas or {}).items()}
    failed = {region for region, (_, status) in (secret.replicas or {}).items() if status.startswith("Failed")}
    wanted = dict(p.secret.replica_regions)
    if set(current) == set(wanted) and not failed and all(same_kms_key(wanted[r] or None, current[r])
                                                          for r in wanted):
        return None
    # a failed replica is shown gone: apply replaces it
    return tuple(sorted((r, k) for r, k in current.items() if r not in failed))


def rotation_changes(p: Principal, secret: SecretState | None, base: dict[str, Any]) -> list[c.AnyChange]:
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


def _normal(fields: Mapping[str, object]) -> dict[str, str]:
    return {k: str(v) for k, v in fields.items() if v is not None}
