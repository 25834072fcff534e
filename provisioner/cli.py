"""The command line: `provisioner validate | plan | apply ...` (SPEC section 4).

Exit codes: 0 success, 1 error, 2 with --detailed-exitcode when there are changes. Output never contains a
password: everything printed passes through redaction, and tracebacks appear only with --debug (redacted).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

from provisioner import __version__, redact, render
from provisioner.core.diff import DiffOptions
from provisioner.core.model import Manifest
from provisioner.core.plan import Plan, TargetPlan
from provisioner.errors import Problem, ProvisionerError, ValidationError
from provisioner.manifest import load

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
log = logging.getLogger("provisioner")


def _out(text: str | Iterator[str]) -> None:
    """Standard output, redacted; an iterator of pieces (a JSON plan) is written piece by piece."""
    for piece in [text] if isinstance(text, str) else text:
        sys.stdout.write(redact.redact(piece))
    sys.stdout.flush()


def _progress(text: str) -> None:
    """Progress and retry notes: on standard error, and only when it is a terminal."""
    if sys.stderr.isatty():
        _err(f"... {text}")


def _err(text: str) -> None:
    sys.stderr.write(redact.redact(text) + ("" if text.endswith("\n") else "\n"))
    sys.stderr.flush()


class Parser(argparse.ArgumentParser):
    """argparse with usage errors exiting 1: exit code 2 means "changes" and nothing else (SPEC 4)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def common_options(before_command: bool) -> Parser:
    """The options every command takes, accepted before or after the command name. After it, they default to
    "not given" so that a value given before the command is not overwritten."""
    common = Parser(add_help=False)

    def default(value: object) -> object:
        return value if before_command else argparse.SUPPRESS

    common.add_argument("-f", "--file", action="append", dest="files", metavar="PATH", default=default(None),
                        help="manifest file or directory (repeatable; default accounts.yaml)")
    common.add_argument("--target", action="append", dest="targets", metavar="NAME", default=default(None),
                        help="only this target (repeatable)")
    common.add_argument("--format", choices=sorted(render.RENDERERS), default=default("text"))
    common.add_argument("--debug", action="store_true", default=default(False),
                        help="debug logs and tracebacks (redacted)")
    common.add_argument("--parallelism", type=int, metavar="N", default=default(4),
                        help="targets planned and applied at once (default 4)")
    return common


def _password_options(command: argparse.ArgumentParser, verb: str) -> None:
    command.add_argument("--reset-password", action="append", metavar="ACCOUNT", default=[],
                         help=f"{verb} a new password for this account ('*' for all)")
    command.add_argument("--create-secrets", action="store_true",
                         help=f"{verb} secrets (and so new passwords) for adopted accounts that have none")


def _onboard_parser(commands: Any, common: Parser) -> None:
    onboard = commands.add_parser("onboard", parents=[common],
                                  help="add a least-privilege account to the manifest; print what the service needs")
    onboard.add_argument("name", metavar="NAME")
    onboard.add_argument("--profile", help="a named grant set from the manifest's `profiles:`")
    onboard.add_argument("--grant", action="append", default=[], metavar="PRIVS:KIND=OBJECTS",
                         help="e.g. SELECT,INSERT:tables=public.films,public.rentals (repeatable)")
    onboard.add_argument("--description")
    onboard.add_argument("--host", help="MySQL/MariaDB host part (default %%)")
    onboard.add_argument("--rotation", choices=["single", "alternating", "none"])
    onboard.add_argument("--auth", choices=["password", "iam"], default="password",
                         help="iam: RDS IAM database authentication (no password, no secret)")
    onboard.add_argument("--member-of", action="append", default=[], metavar="ROLE")
    onboard.add_argument("--region", help="AWS region for the ARN and policy (default: AWS_REGION)")
    onboard.add_argument("--aws-account", help="AWS account id for the ARN and policy")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="provisioner", description="Database accounts as code.", parents=[common_options(True)])
    parser.add_argument("--version", action="version", version=f"provisioner {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options(False)
    commands.add_parser("validate", parents=[common], help="schema and semantic checks; touches nothing")
    plan = commands.add_parser("plan", parents=[common], help="diff of the manifest vs the live databases")
    plan.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    _password_options(plan, "plan")
    apply = commands.add_parser("apply", parents=[common], help="make the live state match the manifest")
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _password_options(apply, "give")
    importing = commands.add_parser("import", parents=[common],
                                    help="print manifest YAML for the accounts and roles that exist on a target")
    importing.add_argument("--adopt", action="store_true",
                           help="mark them adopted: managed, passwords kept, no secrets until --create-secrets")
    diff = commands.add_parser("diff", parents=[common],
                               help="what a change to the manifest would do (offline: no database, no AWS)")
    diff.add_argument("base", metavar="BASE", help="git revision or path of the manifest before the change")
    diff.add_argument("head", metavar="HEAD", nargs="?", help="git revision or path after (default: working tree)")
    diff.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when something changes")
    _onboard_parser(commands, common)
    commands.add_parser("doctor", parents=[common],
                        help="check that rotation can work for every managed secret (function, permission, network)")
    rotate = commands.add_parser("rotate", parents=[common],
                                 help="rotate passwords now through the four rotation steps")
    rotate.add_argument("accounts", nargs="*", metavar="ACCOUNT")
    rotate.add_argument("--all", action="store_true", help="every account with a rotation strategy")
    return parser


def load_manifest(args: argparse.Namespace) -> Manifest:
    manifest = load(args.files or ["accounts.yaml"])
    gc.freeze()  # it lives as long as the run: the collector, where it runs, need not walk it again
    return manifest


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        manifest = load_manifest(args)
    except ValidationError as exc:
        if args.format != "json":
            raise
        _out(json.dumps({"valid": False, "problems": [_problem_json(p) for p in exc.problems]}, indent=2) + "\n")
        return EXIT_ERROR
    accounts = sum(1 for p in manifest.principals if p.login)
    roles = len(manifest.principals) - accounts
    if args.format == "json":
        _out(json.dumps({"valid": True, "files": list(manifest.files), "targets": len(manifest.targets),
                         "accounts": accounts, "roles": roles, "problems": []}, indent=2) + "\n")
    else:
        _out(f"{', '.join(manifest.files)}: valid ({len(manifest.targets)} target(s), {accounts} account(s), "
             f"{roles} role(s))\n")
    return EXIT_OK


def _problem_json(problem: Problem) -> dict[str, object]:
    where = problem.location
    return {"file": where.file if where else None, "line": where.line if where else None,
            "column": where.column if where else None, "message": problem.message, "hint": problem.hint}


TEXT_ONLY = {"rotate": "progress lines", "import": "manifest YAML", "onboard": "the edit and the IAM policy"}


def _options(args: argparse.Namespace, manifest: Manifest) -> DiffOptions:
    names = frozenset(args.reset_password or ())
    accounts = {p.name for p in manifest.principals if p.login and (not args.targets or p.target in args.targets)}
    unknown = sorted(names - accounts - {"*"})
    if unknown:
        raise ProvisionerError(f"--reset-password names no account of the manifest: {', '.join(unknown)}",
                               "name login accounts declared under `accounts:` (and check --target), or '*'")
    return DiffOptions(reset_passwords=names, create_secrets=bool(getattr(args, "create_secrets", False)))


def _print_plan(plan: Plan, fmt: str) -> None:
    """The plan on standard output; each target's errors also on standard error, where scripts and CI logs
    look for failures (every target's, not the first one's)."""
    _out(render.json_pieces(plan) if fmt == "json" else render.RENDERERS[fmt](plan))
    for target in plan.targets:
        for error in target.errors:
            _err(f"error: {error}" if error.startswith(f"target {target.target}") else
                 f"error: target {target.target}: {error}")


def cmd_plan(args: argparse.Namespace) -> int:
    from provisioner.pipeline.planning import build_plan
    from provisioner.secrets.store import SecretStore

    manifest = load_manifest(args)
    store = SecretStore(retry_note=_progress)
    plan = build_plan(manifest, args.targets, store, _options(args, manifest), args.parallelism, _progress)
    _print_plan(plan, args.format)
    if plan.errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise ProvisionerError("apply needs confirmation but standard input is not a terminal",
                               "pass --yes to apply without asking (e.g. in CI)")
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().strip() == "yes"


def cmd_apply(args: argparse.Namespace) -> int:
    from provisioner.pipeline.apply import apply_all
    from provisioner.pipeline.planning import build_plan
    from provisioner.secrets.store import SecretStore

    manifest = load_manifest(args)
    store = SecretStore(retry_note=_progress)
    options = _options(args, manifest)
    expected: dict[str, TargetPlan] | None = None
    if not args.yes:
        # Interactive: show the whole plan, ask, then apply exactly that (a drift under the lock aborts).
        plan = build_plan(manifest, args.targets, store, options, args.parallelism, _progress)
        _print_plan(plan, args.format)
        if plan.errors:
            _err("apply refused: the plan has errors (see above)")
            return EXIT_ERROR
        if not plan.has_changes:
            return EXIT_OK
        if not _confirm("\nApply these changes? Only 'yes' is accepted: "):
            _err("apply cancelled")
            return EXIT_ERROR
        expected = {t.target: t for t in plan.targets}
    shown: list[TargetPlan] = []
    output = threading.Lock()

    def show(fresh: TargetPlan) -> None:
        # --yes: each target is planned once, under its lock, and that plan is what runs.
        with output:
            shown.append(fresh)
            if args.format != "json":
                _out(render.RENDERERS[args.format](Plan([fresh])))

    result = apply_all(manifest, args.targets, store, options, args.parallelism, expected,
                       on_plan=show if args.yes else None, on_done=_err, progress=_progress)
    for failure in result.failures:
        _err(f"error: {failure}")
    verdict = "Apply complete" if not result.failures else (
        f"Apply failed on {len(result.failures)} target(s) (see above); on the others")
    summary = (f"{verdict}: {result.totals['add']} added, {result.totals['change']} changed, "
               f"{result.totals['destroy']} destroyed ({store.calls} Secrets Manager calls).\n")
    if args.format == "json":
        _out(render.apply_json_pieces(Plan(shown) if args.yes else Plan(list((expected or {}).values())),
                                      result.totals, store.calls))
        _err(summary)  # stdout holds one JSON document; messages go to stderr
    else:
        _out(summary)
    return EXIT_ERROR if result.failures else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from provisioner.commands.importer import import_live, to_yaml
    from provisioner.secrets.store import SecretStore

    manifest = load_manifest(args)
    imported, target = import_live(manifest, args.targets, SecretStore(retry_note=_progress), args.adopt)
    _out(to_yaml(imported, target))
    for note in imported.notes:
        _err(f"note: {note}")
    if imported.taken_over:
        _err(f"warning: this manifest takes over {len(imported.taken_over)} live login account(s) nobody manages yet "
             f"({', '.join(imported.taken_over[:5])}{', ...' if len(imported.taken_over) > 5 else ''}): `apply` gives "
             f"each a new password (kept in its secret), and applications using the current one are locked out; run "
             f"`import --adopt` to keep their passwords")
    return EXIT_OK


def cmd_onboard(args: argparse.Namespace) -> int:
    from provisioner.commands.onboard import instructions, onboard

    if not args.targets or len(args.targets) != 1:
        raise ProvisionerError("onboard needs exactly one --target", "e.g. provisioner onboard svc --target films")
    result = onboard(args.files or ["accounts.yaml"], args.name, args.targets[0], args.profile, args.grant,
                     description=args.description, host=args.host, rotation=args.rotation,
                     member_of=args.member_of, auth=args.auth)
    _out(instructions(result, args.region, args.aws_account))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from provisioner.commands.doctor import FAIL, run_doctor
    from provisioner.commands.doctor import render as render_doctor
    from provisioner.pipeline.planning import select_targets
    from provisioner.secrets.store import SecretStore

    manifest = load_manifest(args)
    targets = [t.name for t in select_targets(manifest, args.targets)]
    reports = run_doctor(manifest, targets, SecretStore(retry_note=_progress))
    if args.format == "json":
        _out(json.dumps([{"secret": r.secret, "target": r.target, "account": r.account,
                          "checks": [vars(c) for c in r.checks]} for r in reports], indent=2) + "\n")
    else:
        _out(render_doctor(reports))
    return EXIT_ERROR if any(c.status == FAIL for r in reports for c in r.checks) else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from provisioner.manifest import load_sources
    from provisioner.manifest.sources import resolve
    from provisioner.pipeline.offline import offline_plan

    paths = args.files or ["accounts.yaml"]
    _, base_sources = resolve(args.base, paths)
    _, head_sources = resolve(args.head, paths)
    plan = offline_plan(load_sources(base_sources), load_sources(head_sources), args.targets)
    _print_plan(plan, args.format)
    if plan.errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_rotate(args: argparse.Namespace) -> int:
    from provisioner.pipeline.rotate import RotationOutput, accounts_to_rotate, rotate_accounts
    from provisioner.secrets.store import SecretStore

    manifest = load_manifest(args)
    accounts = accounts_to_rotate(manifest, args.accounts, args.all, args.targets)
    store = SecretStore(retry_note=_progress)
    failures = rotate_accounts(manifest, accounts, store, RotationOutput(out=_out, err=_err), args.parallelism)
    return EXIT_ERROR if failures else EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "rotate": cmd_rotate,
    "diff": cmd_diff,
    "import": cmd_import,
    "onboard": cmd_onboard,
    "doctor": cmd_doctor,
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
}


# A short run builds hundreds of thousands of objects that live until it ends (manifest, catalog, plan) and makes
# next to no cyclic garbage: the cyclic collector would only walk them again and again (a quarter of the CPU of a
# no-op plan at 1,000 roles x 2,000 tables). Reference counting frees everything else as usual. The long runs
# (apply, rotate) keep the collector.
SHORT_RUNS = frozenset({"plan", "diff", "validate", "import", "onboard", "doctor"})


def run() -> None:
    """The console script and `python -m provisioner`: `main`, then an immediate exit once the output is
    flushed. Every connection, pool and file is closed by then; what is left is freeing the objects one by one
    (a tenth of a second at 1,000 roles x 2,000 tables), which the operating system does at once."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away (`| head`), or the stream was closed
            code = code or EXIT_ERROR
    logging.shutdown()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    collecting = gc.isenabled()
    if args.command in SHORT_RUNS:
        gc.disable()
    try:
        return _run(args)
    finally:
        # main() is also called in-process (tests, the demo): leave the collector as it was.
        gc.unfreeze()
        if collecting:
            gc.enable()


def _run(args: argparse.Namespace) -> int:
    debug = args.debug or os.environ.get("PROVISIONER_DEBUG") == "1"
    redact.install_logging(logging.DEBUG if debug else logging.WARNING)
    try:
        if args.command in TEXT_ONLY and args.format != "text":
            raise ProvisionerError(f"{args.command} prints {TEXT_ONLY[args.command]}; --format {args.format} is not "
                                   f"available for it", "run it without --format")
        return COMMANDS[args.command](args)
    except ValidationError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except ProvisionerError as exc:
        _err(f"error: {exc}")
        if debug:
            _err(redact.redact(traceback.format_exc()))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:
        if debug:
            _err(redact.redact(traceback.format_exc()))
        else:
            _err(f"internal error: {type(exc).__name__}: {redact.redact(str(exc))}\n"
                 "    hint: run again with --debug for the (redacted) traceback, and report it")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
