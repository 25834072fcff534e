"""What each command does when it runs: load the manifest, call the pipeline or a command module, print. One
function per command, named after it; `commands` describes each (arguments, help, formats) and points here."""

from __future__ import annotations

import argparse
import gc
import json
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from provisioner import render
from provisioner.cli.output import Output
from provisioner.core import shards
from provisioner.core.diff import DiffOptions
from provisioner.core.model import Manifest
from provisioner.core.plan import Plan, TargetPlan
from provisioner.errors import Problem, ProvisionerError, ValidationError
from provisioner.manifest import load

if TYPE_CHECKING:
    from provisioner.pipeline.apply import ApplyResult
    from provisioner.secrets.store import SecretStore

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def load_manifest(args: argparse.Namespace) -> Manifest:
    manifest = load(args.files or ["accounts.yaml"])
    gc.freeze()  # it lives as long as the run: the collector, where it runs, need not walk it again
    return manifest


def shard_holds_targets(args: argparse.Namespace, manifest: Manifest, output: Output) -> bool:
    """With `--shard K/N`: narrow `args.targets` to the shard's share (of --target's, or of every target); False
    when the shard holds none (the command then has nothing to do, and says so)."""
    shard = getattr(args, "shard", None)
    if not shard:
        return True
    from provisioner.pipeline.planning import select_targets

    select_targets(manifest, args.targets)  # an unknown --target is an error, shard or not
    k, n = shard
    args.targets = shards.in_shard(args.targets or sorted(manifest.targets), k, n)
    if not args.targets:
        output.note(f"shard {k}/{n} holds none of the targets: nothing to do")
    return bool(args.targets)


def problem_json(problem: Problem) -> dict[str, object]:
    where = problem.location
    return {"file": where.file if where else None, "line": where.line if where else None,
            "column": where.column if where else None, "message": problem.message, "hint": problem.hint}


def validate(args: argparse.Namespace, output: Output) -> int:
    from provisioner.pipeline.planning import select_targets

    try:
        manifest = load_manifest(args)
    except ValidationError as exc:
        if args.format != "json":
            raise
        output.out(json.dumps({"valid": False, "problems": [problem_json(p) for p in exc.problems]}, indent=2) + "\n")
        return EXIT_ERROR
    select_targets(manifest, args.targets)  # `--target nosuch` is the error plan gives, not "valid"
    accounts = sum(1 for p in manifest.principals if p.login)
    roles = len(manifest.principals) - accounts
    if args.format == "json":
        output.out(json.dumps({"valid": True, "files": list(manifest.files), "targets": len(manifest.targets),
                               "accounts": accounts, "roles": roles, "problems": []}, indent=2) + "\n")
    else:
        output.out(f"{', '.join(manifest.files)}: valid ({len(manifest.targets)} target(s), {accounts} account(s), "
                   f"{roles} role(s))\n")
    return EXIT_OK


def diff_options(args: argparse.Namespace, manifest: Manifest) -> DiffOptions:
    names = frozenset(getattr(args, "reset_password", None) or ())
    accounts = {p.name for p in manifest.principals if p.login and (not args.targets or p.target in args.targets)}
    unknown = sorted(names - accounts - {"*"})
    if unknown:
        raise ProvisionerError(f"--reset-password names no account of the manifest: {', '.join(unknown)}",
                               "name login accounts declared under `accounts:` (and check --target), or '*'")
    return DiffOptions(reset_passwords=names, create_secrets=bool(getattr(args, "create_secrets", False)),
                       now=datetime.now(timezone.utc))


def print_plan(plan: Plan, output: Output) -> None:
    """The plan on standard output; each target's errors also on standard error, where scripts and CI logs
    look for failures (every target's, not the first one's)."""
    output.out(render.json_pieces(plan) if output.format == "json" else render.RENDERERS[output.format](plan))
    for target in plan.targets:
        for error in target.errors:
            output.err(f"error: {error}" if error.startswith(f"target {target.target}") else
                       f"error: target {target.target}: {error}")


def plan(args: argparse.Namespace, output: Output) -> int:
    from provisioner.pipeline.planning import build_plan
    from provisioner.secrets.store import SecretStore

    manifest = load_manifest(args)
    if not shard_holds_targets(args, manifest, output):
        return EXIT_OK
    store = SecretStore(retry_note=output.progress)
    options = diff_options(args, manifest)
    found = build_plan(manifest, args.targets, store, options, args.parallelism, output.progress,
                       saving=bool(args.out))
    if args.out and not found.errors:
        from provisioner.pipeline.saved import save

        found.digest = save(args.out, found, manifest, options, json.loads(render.as_json(found)))
    print_plan(found, output)
    if args.out:
        output.note(f"saved plan: {args.out} ({found.digest})" if found.digest else
                    f"no plan saved to {args.out}: the plan has errors")
    if found.errors:
        return EXIT_ERROR
    return EXIT_CHANGES if args.detailed_exitcode and found.has_changes else EXIT_OK


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise ProvisionerError("apply needs confirmation but standard input is not a terminal",
                               "pass --yes to apply without asking (e.g. in CI)")
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().strip() == "yes"


def _confirmed_plans(args: argparse.Namespace, output: Output, manifest: Manifest, options: DiffOptions,
                     store: SecretStore) -> dict[str, TargetPlan] | int:
    """Interactive apply: the whole plan shown and confirmed (then exactly that is applied: a drift under the lock
    aborts); an exit code when there is nothing to do or the user said no."""
    from provisioner.pipeline.planning import build_plan

    found = build_plan(manifest, args.targets, store, options, args.parallelism, output.progress)
    print_plan(found, output)
    if found.errors:
        output.err("apply refused: the plan has errors (see above)")
        return EXIT_ERROR
    if not found.has_changes:
        return EXIT_OK
    if not _confirm("\nApply these changes? Only 'yes' is accepted: "):
        output.err("apply cancelled")
        return EXIT_ERROR
    return {t.target: t for t in found.targets}


def apply(args: argparse.Namespace, output: Output) -> int:
    from provisioner.pipeline.apply import apply_all
    from provisioner.secrets.store import SecretStore

    if args.plan_file:
        return apply_saved(args, output)
    manifest = load_manifest(args)
    if not shard_holds_targets(args, manifest, output):
        return EXIT_OK
    store = SecretStore(retry_note=output.progress)
    options = diff_options(args, manifest)
    expected = None
    if not args.yes:
        confirmed = _confirmed_plans(args, output, manifest, options, store)
        if isinstance(confirmed, int):
            return confirmed
        expected = confirmed
    shown: list[TargetPlan] = []
    lock = threading.Lock()

    def show(fresh: TargetPlan) -> None:  # --yes: each target is planned once, under its lock: that plan runs
        with lock:
            shown.append(fresh)

    result = apply_all(manifest, args.targets, store, options, args.parallelism, expected,
                       on_plan=show if args.yes else None, on_done=output.note, progress=output.progress)
    ran = Plan(sorted(shown, key=lambda t: t.target)) if args.yes else Plan(list((expected or {}).values()))
    if args.yes and output.format != "json" and not output.quiet:
        print_plan(ran, output)  # the layout of `plan`, in target order, whatever order the targets finished in
    return apply_outcome(output, result, ran, store.calls)


def apply_outcome(output: Output, result: ApplyResult, ran: Plan, calls: int, saved: str = "") -> int:
    """Each target's failure, then what was applied: a summary line (JSON: the applied plan on stdout)."""
    for failure in result.failures:
        output.err(f"error: {failure}")
    totals = result.totals
    verdict = "Apply complete" if not result.failures else (
        f"Apply failed on {len(result.failures)} target(s) (see above); on the others")
    summary = (f"{verdict}{f' (saved plan {saved})' if saved else ''}: {totals['add']} added, {totals['change']} "
               f"changed, {totals['destroy']} destroyed ({calls} Secrets Manager calls).\n")
    if output.format == "json":
        output.out(render.apply_json_pieces(ran, totals, calls))
        output.err(summary)  # stdout holds one JSON document; messages go to stderr
    else:
        output.out(summary)
    return EXIT_ERROR if result.failures else EXIT_OK


def apply_saved(args: argparse.Namespace, output: Output) -> int:
    """`apply FILE`: the saved plan's targets, checked first (all of them: one that would be refused stops the
    run before anything is written), then applied, each checked again under its lock."""
    from provisioner.pipeline.apply import apply_all
    from provisioner.pipeline.planning import build_plan
    from provisioner.pipeline.saved import load, manifest_digest
    from provisioner.secrets.store import SecretStore

    if (args.targets or getattr(args, "reset_password", None) or getattr(args, "create_secrets", False)
            or getattr(args, "shard", None)):
        raise ProvisionerError("apply FILE applies the saved plan as it was made: no --target, --shard, "
                               "--reset-password or --create-secrets", "give those to plan --out")
    saved = load(args.plan_file)
    manifest = load_manifest(args)
    output.note(f"saved plan {args.plan_file} ({saved.digest})")
    now = manifest_digest(manifest.files)
    if now != saved.manifest:
        raise ProvisionerError(f"saved plan refused, nothing was written: the manifest changed since the plan was "
                               f"saved ({saved.manifest}, now {now})", "plan --out again, review, and apply that file")
    store = SecretStore(retry_note=output.progress)
    names = [name for name, target in saved.targets.items() if target.changes]
    fresh = build_plan(manifest, names, store, saved.options, args.parallelism, output.progress, saving=True)
    refusals = [f"target {plan.target}: {why}" for plan in fresh.targets if (why := saved.refusal(plan))]
    if refusals:
        for refusal in refusals:
            output.err(f"error: {refusal}")
        raise ProvisionerError("saved plan refused, nothing was written", "plan --out again, review, and apply "
                                                                          "the new file")
    fresh.digest = saved.digest
    print_plan(fresh, output)
    if not fresh.has_changes:
        return EXIT_OK
    if not args.yes and not _confirm("\nApply this saved plan? Only 'yes' is accepted: "):
        output.err("apply cancelled")
        return EXIT_ERROR
    result = apply_all(manifest, names, store, saved.options, args.parallelism, on_done=output.note,
                       progress=output.progress, saved=saved)
    return apply_outcome(output, result, fresh, store.calls, saved.digest)


def diff(args: argparse.Namespace, output: Output) -> int:
    from provisioner.manifest import load_sources
    from provisioner.manifest.sources import resolve
    from provisioner.pipeline.offline import offline_plan

    paths = args.files or ["accounts.yaml"]
    _, base_sources = resolve(args.base, paths)
    _, head_sources = resolve(args.head, paths)
    found = offline_plan(load_sources(base_sources), load_sources(head_sources), args.targets,
                         datetime.now(timezone.utc))
    print_plan(found, output)
    if found.errors:
        return EXIT_ERROR
    return EXIT_CHANGES if args.detailed_exitcode and found.has_changes else EXIT_OK


def import_(args: argparse.Namespace, output: Output) -> int:
    from provisioner.commands.importer import import_live, to_yaml
    from provisioner.secrets.store import SecretStore

    manifest = load_manifest(args)
    imported, target = import_live(manifest, args.targets, SecretStore(retry_note=output.progress), args.adopt)
    output.out(to_yaml(imported, target))
    for note in imported.notes:
        output.note(f"note: {note}")
    if imported.taken_over:
        shown = ", ".join(imported.taken_over[:5]) + (", ..." if len(imported.taken_over) > 5 else "")
        output.err(f"warning: this manifest takes over {len(imported.taken_over)} live login account(s) nobody "
                   f"manages yet ({shown}): `apply` gives each a new password (kept in its secret), and applications "
                   f"using the current one are locked out; run `import --adopt` to keep their passwords")
    return EXIT_OK


def onboard(args: argparse.Namespace, output: Output) -> int:
    from provisioner.commands.onboard import instructions
    from provisioner.commands.onboard import onboard as add_account

    if not args.targets or len(args.targets) != 1:
        raise ProvisionerError("onboard needs exactly one --target", "e.g. provisioner onboard svc --target films")
    result = add_account(args.files or ["accounts.yaml"], args.name, args.targets[0], args.profile, args.grant,
                         description=args.description, host=args.host, rotation=args.rotation,
                         member_of=args.member_of, auth=args.auth)
    output.out(instructions(result, args.region, args.aws_account))
    return EXIT_OK


def doctor(args: argparse.Namespace, output: Output) -> int:
    from provisioner.commands.doctor import run_doctor
    from provisioner.pipeline.planning import select_targets
    from provisioner.render.doctor import doctor_json, doctor_text
    from provisioner.secrets.store import SecretStore

    manifest = load_manifest(args)
    if not shard_holds_targets(args, manifest, output):
        return EXIT_OK
    targets = [t.name for t in select_targets(manifest, args.targets)]
    reports = run_doctor(manifest, targets, SecretStore(retry_note=output.progress))
    output.out(doctor_json(reports) if output.format == "json" else doctor_text(reports))
    return EXIT_ERROR if any(r.failed for r in reports) else EXIT_OK


def rotate(args: argparse.Namespace, output: Output) -> int:
    from provisioner.commands.rotate import RotationOutput, accounts_to_rotate, rotate_accounts
    from provisioner.secrets.store import SecretStore

    manifest = load_manifest(args)
    if getattr(args, "shard", None) and not args.all:
        raise ProvisionerError("--shard splits `rotate --all` among jobs", "add --all, or name the accounts")
    if not shard_holds_targets(args, manifest, output):
        return EXIT_OK
    accounts = accounts_to_rotate(manifest, args.accounts, args.all, args.targets)
    store = SecretStore(retry_note=output.progress)
    failures = rotate_accounts(manifest, accounts, store, RotationOutput(out=output.out, err=output.err),
                               args.parallelism)
    return EXIT_ERROR if failures else EXIT_OK


def schema(args: argparse.Namespace, output: Output) -> int:
    from provisioner.manifest.validation import schema_path

    text = schema_path().read_text(encoding="utf-8")
    if args.path:
        Path(args.path).write_text(text, encoding="utf-8")
        output.note(f"wrote the manifest's JSON schema to {args.path} (reference it with "
                    f"`# yaml-language-server: $schema={args.path}`)")
    else:
        output.out(text)
    return EXIT_OK


def completion(args: argparse.Namespace, output: Output) -> int:
    import argcomplete

    output.out(argcomplete.shellcode(["provisioner"], shell=args.shell))
    return EXIT_OK
