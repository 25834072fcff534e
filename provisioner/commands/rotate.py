"""`provisioner rotate`: choose the accounts, find each one's secret, and run the four rotation steps now."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from provisioner.core.model import Manifest, Principal
from provisioner.errors import ProvisionerError
from provisioner.pipeline.connect import secret_name_of
from provisioner.pipeline.planning import select_targets
from provisioner.secrets.aws import AwsAccessError, SecretsError
from provisioner.secrets.rotation import rotate_now
from provisioner.secrets.store import SecretStore

Print = Callable[[str], None]


@dataclass
class RotationOutput:
    out: Print  # progress, on standard output
    err: Print  # problems, on standard error


def accounts_to_rotate(manifest: Manifest, names: list[str], every: bool, targets: list[str] | None
                       ) -> list[Principal]:
    if bool(names) == bool(every):
        raise ProvisionerError("name the accounts to rotate, or pass --all", "e.g. provisioner rotate reader_user")
    chosen = {t.name for t in select_targets(manifest, targets)}
    accounts = [p for p in manifest.principals
                if p.login and p.state == "present" and p.target in chosen
                and ((every and p.rotation.strategy != "none") or p.name in names)]
    missing = set(names) - {p.name for p in accounts}
    if missing:
        raise ProvisionerError(f"no such account in the manifest: {', '.join(sorted(missing))}",
                               "name login accounts declared under `accounts:` (and check --target)")
    unrotated = sorted(p.name for p in accounts if p.rotation.strategy == "none")
    if unrotated:
        raise ProvisionerError(f"rotation strategy is none for {', '.join(unrotated)}: nothing rotates it",
                               f"for a new password now run `provisioner apply --reset-password "
                               f"{unrotated[0]}`; to rotate it, set `rotation: {{strategy: single}}` and apply")
    return accounts


@dataclass
class _Outcome:
    out: list[str]
    err: list[str]
    failed: bool = False
    stop: bool = False  # AWS refused access: every other account would fail the same way


def rotate_accounts(manifest: Manifest, accounts: list[Principal], store: SecretStore, show: RotationOutput,
                    parallelism: int = 1) -> int:
    """Rotate each account through the four steps, `parallelism` at a time (each rotation still takes its
    target's lock for setSecret and testSecret); the number that failed. Output stays grouped by account, in
    the order given."""
    stopped = threading.Event()

    def one(account: Principal) -> _Outcome:
        if stopped.is_set():
            return _Outcome([], [], failed=True)
        outcome = _rotate_one(manifest, account, store)
        if outcome.stop:
            stopped.set()
        return outcome

    failures = 0
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="rotate") as pool:
        for outcome in pool.map(one, accounts):
            for line in outcome.out:
                show.out(line)
            for line in outcome.err:
                show.err(line)
            failures += outcome.failed
    return failures


def _rotate_one(manifest: Manifest, account: Principal, store: SecretStore) -> _Outcome:
    name = secret_name_of(account, manifest.targets[account.target], store)
    outcome = _Outcome([f"rotating {name} ({account.rotation.strategy})\n"], [])

    def observe(step: str, info: dict[str, object]) -> None:
        # Versions without a label (older ones Secrets Manager keeps) are not shown.
        stages = "; ".join(f"{v[:8]}: {'+'.join(s)}" for v, s in info["stages"].items() if s)  # type: ignore[attr-defined]
        note = " (nothing to do)" if info["skipped"] else ""
        user = info.get("username") or "-"
        outcome.out.append(f"  {step:<13} new version for {user:<20} versions {stages}{note}\n")

    try:
        rotate_now(store, name, account.password, observer=observe)
        outcome.out.append(f"  done: AWSCURRENT of {name} holds the new password\n")
        return outcome
    except AwsAccessError as exc:
        outcome.err.append(f"  rotation of {name} did not start: {exc}")
        outcome.stop = True
    except SecretsError as exc:
        if exc.code != "ResourceNotFoundException":
            outcome.err.append(_resume_hint(name, exc))
        else:
            outcome.err.append(f"  secret {name} does not exist: {account.name} was never applied\n  run "
                               f"`provisioner apply` first: it creates the account and its secret")
    except ProvisionerError as exc:
        outcome.err.append(_resume_hint(name, exc))
    outcome.failed = True
    return outcome


def _resume_hint(name: str, exc: ProvisionerError) -> str:
    return (f"  rotation of {name} failed: {exc}\n  run rotate again once the cause is fixed (a new version replaces "
            f"the pending one); AWSCURRENT stays in place until the new password is set and tested")
