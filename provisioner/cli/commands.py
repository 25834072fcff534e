"""Every command, described once: its name, what it does, examples, its own arguments, the formats it prints,
whether it takes `--parallelism`, whether it is a short run (no cyclic garbage collection), and the function that
runs it (`runs`). The parser, the help and the dispatch are all built from this table."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from provisioner.cli import runs
from provisioner.cli.output import Output

Run = Callable[[argparse.Namespace, Output], int]
Arguments = Callable[[argparse.ArgumentParser], None]


def _nothing(parser: argparse.ArgumentParser) -> None:
    """No arguments beyond the common options."""


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # one line, in the list of commands
    description: str  # what it does and what it touches
    examples: tuple[str, ...]
    run: Run
    arguments: Arguments = _nothing
    formats: tuple[str, ...] = ("text",)
    parallel: bool = False  # takes --parallelism
    short: bool = True  # a short run: the cyclic garbage collector stays off
    usage: str | None = None  # when argparse's own would mislead (an option that is required)
    shards: bool = False  # takes --shard K/N (a stable share of the targets, for N CI jobs)
    targets_help: str = "only this target (repeatable; default: every target)"


def _password_options(verb: str) -> Arguments:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--reset-password", action="append", metavar="ACCOUNT", default=[],
                            help=f"{verb} a new password for this account ('*' for every account; repeatable)")
        parser.add_argument("--create-secrets", action="store_true",
                            help=f"{verb} secrets (and so new passwords) for adopted accounts that have none")
    return add


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detailed-exitcode", action="store_true",
                        help="exit 2 when there are changes (0: none, 1: an error)")
    parser.add_argument("--out", metavar="FILE", help="also save the plan to FILE, for `apply FILE` to apply exactly "
                                                      "it (the output shows the plan's digest)")
    _password_options("plan")(parser)


def _apply_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_file", metavar="FILE", nargs="?",
                        help="a saved plan (plan --out): apply exactly it, or refuse with nothing written if the "
                             "manifest, a server or the live state changed since")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (CI); without it apply "
                                                          "shows the plan and asks on a terminal")
    _password_options("give")(parser)


def _diff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", metavar="BASE", help="git revision or path of the manifest before the change")
    parser.add_argument("head", metavar="HEAD", nargs="?", help="git revision or path after (default: the working "
                                                                "tree)")
    parser.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when something changes")


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adopt", action="store_true",
                        help="mark them adopted: managed, passwords kept, no secrets until apply --create-secrets")


def _onboard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the new account's name (the database user)")
    parser.add_argument("--profile", help="a named grant set from the manifest's `profiles:`")
    parser.add_argument("--grant", action="append", default=[], metavar="PRIVS:KIND=OBJECTS",
                        help="e.g. SELECT,INSERT:tables=public.films,public.rentals (repeatable)")
    parser.add_argument("--description", help="what the account is for (kept as the role's comment)")
    parser.add_argument("--host", help="MySQL/MariaDB host part (default %%)")
    parser.add_argument("--rotation", choices=["single", "alternating", "none"], help="rotation strategy (default: "
                                                                                       "the manifest's defaults)")
    parser.add_argument("--auth", choices=["password", "iam"], default="password",
                        help="iam: RDS IAM database authentication (no password, no secret)")
    parser.add_argument("--member-of", action="append", default=[], metavar="ROLE",
                        help="a group role of the target the account is a member of (repeatable)")
    parser.add_argument("--region", help="AWS region for the ARN and policy (default: AWS_REGION)")
    parser.add_argument("--aws-account", help="AWS account id for the ARN and policy")


def _rotate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("accounts", nargs="*", metavar="ACCOUNT", help="login accounts of the manifest to rotate")
    parser.add_argument("--all", action="store_true", help="every account with a rotation strategy")


def _schema_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", nargs="?", help="write it to this file (default: print it)")


def _completion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell to complete in")


COMMANDS: tuple[Command, ...] = (
    Command("validate", "schema and semantic checks; touches nothing",
            "Checks the manifest against the JSON schema and every semantic rule, and reports every problem at once "
            "with file:line:column and a fix. Needs no credentials.",
            ("provisioner validate -f accounts.yaml", "provisioner validate -f accounts.d/ --format json"),
            runs.validate, formats=("text", "json")),
    Command("plan", "diff of the manifest vs the live databases and Secrets Manager; reads only",
            "Connects to each target, inspects it with a constant number of catalog queries and reads the managed "
            "secrets, and shows every change apply would make (the exact SQL; implied grants and changes that "
            "widen power marked). Writes nothing.",
            ("provisioner plan", "provisioner plan --target films --format markdown > comment.md",
             "provisioner plan --detailed-exitcode   # exit 2 when there are changes",
             "provisioner plan --out plan.json --format markdown > comment.md   # saved, digest in the comment"),
            runs.plan, _plan_arguments, formats=("text", "markdown", "json"), parallel=True, shards=True),
    Command("apply", "make the live state match the manifest; writes",
            "Plans each target again under its lock and carries the plan out in an order that never loses a "
            "credential: secrets first, then the database in one transaction, then the secret follow-ups. Asks on a "
            "terminal unless --yes.",
            ("provisioner apply", "provisioner apply --yes --target films", "provisioner apply --reset-password "
                                                                             "reader_user",
             "provisioner apply --yes plan.json   # exactly the saved plan, or nothing"),
            runs.apply, _apply_arguments, formats=("text", "markdown", "json"), parallel=True, short=False,
            shards=True),
    Command("diff", "what a change to the manifest would do; offline (no database, no AWS)",
            "Computes the intended change between two versions of the manifest (git revisions or paths) with the "
            "real diff against an in-memory server: the pull-request view without credentials.",
            ("provisioner diff origin/main", "provisioner diff old.yaml new.yaml --format markdown"),
            runs.diff, _diff_arguments, formats=("text", "markdown", "json")),
    Command("rotate", "rotate passwords now through the four rotation steps; writes",
            "Runs createSecret, setSecret, testSecret and finishSecret now, from here, for each account: a forced "
            "rotation, an exact-time cron job, or a VPC the Lambda cannot reach.",
            ("provisioner rotate reader_user", "provisioner rotate --all --target films --parallelism 8",
             "provisioner rotate --all --shard 2/4   # the second quarter of the fleet"),
            runs.rotate, _rotate_arguments, parallel=True, short=False, shards=True),
    Command("import", "print manifest YAML for the accounts and roles that exist on a target; reads only",
            "Inspects one target and writes the manifest entries of its roles and their grants (schema-wide grants "
            "folded into schema.*), so that the round trip import -> plan shows no changes.",
            ("provisioner import --target films > accounts.d/films.yaml", "provisioner import --target films --adopt"),
            runs.import_, _import_arguments, targets_help="the target to import (exactly one)"),
    Command("onboard", "add a least-privilege account to the manifest; print what the service needs",
            "Adds the account to the file that defines the target (comments and order kept), validates the whole "
            "manifest first, and prints the secret's name and the IAM policy that reads exactly it.",
            ("provisioner onboard billing_api --target billing --grant SELECT:tables=billing.invoices",
             "provisioner onboard reporting --target films --profile reader --rotation alternating"),
            runs.onboard, _onboard_arguments, targets_help="the target of the new account (required)",
            usage="provisioner onboard NAME --target TARGET (--profile PROFILE | --grant PRIVS:KIND=OBJECTS ...) "
                  "[options]"),
    Command("doctor", "check that rotation can work for every managed secret; reads only",
            "For each managed secret: rotation enabled, the function exists and Secrets Manager may invoke it, a "
            "route from its VPC to Secrets Manager and the database, the last rotation, and a login with AWSCURRENT.",
            ("provisioner doctor", "provisioner doctor --target films --format json"),
            runs.doctor, formats=("text", "json"), shards=True),
    Command("schema", "print the manifest's JSON schema (or write it to PATH)",
            "The JSON Schema 2020-12 that validates accounts.yaml, for editors (yaml-language-server) in your own "
            "repository.",
            ("provisioner schema schemas/accounts.schema.json",), runs.schema, _schema_arguments),
    Command("completion", "print shell completion for bash, zsh or fish",
            "Completion generated from the parser by argcomplete. Load it from your shell's startup file.",
            ('eval "$(provisioner completion bash)"', "provisioner completion fish > "
                                                      "~/.config/fish/completions/provisioner.fish"),
            runs.completion, _completion_arguments),
)
BY_NAME: dict[str, Command] = {command.name: command for command in COMMANDS}
