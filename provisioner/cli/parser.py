"""The argument parser, built from the command table (`commands`): the common options (accepted before or after the
command), each command's own, help with a description and examples, "did you mean" for a mistyped command, usage
errors that exit 1 (exit 2 means "changes" and nothing else, SPEC 4)."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import NoReturn

from provisioner import __version__
from provisioner.cli.commands import COMMANDS, Command
from provisioner.core import shards

EXIT_USAGE = 1
FORMATS = ("text", "markdown", "json")
EPILOG = """environment:
  AWS_PROFILE, AWS_REGION (or AWS_DEFAULT_REGION)   the standard AWS chain
  AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SECRETS_MANAGER  a local endpoint (tests, LocalStack, moto)
  PROVISIONER_DEBUG=1                               as --debug: debug logs and (redacted) tracebacks
  NO_COLOR                                          no colour, even on a terminal

exit codes: 0 success, 1 error (an invalid manifest, a plan with errors, a usage error), 2 with
--detailed-exitcode when there are changes. Passwords are never printed."""


class Parser(argparse.ArgumentParser):
    """argparse with usage errors exiting 1, and a suggestion for a mistyped command."""

    def error(self, message: str) -> NoReturn:
        wrong = re.search(r"invalid choice: '([^']*)'", message)
        if wrong and "COMMAND" in self.format_usage():
            close = difflib.get_close_matches(wrong.group(1), [c.name for c in COMMANDS], n=1)
            if close:
                message += f" — did you mean {close[0]!r}?"
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _shard(text: str) -> tuple[int, int]:
    try:
        return shards.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(parser: argparse.ArgumentParser, command: Command | None) -> None:
    """The options every command takes. After the command name they default to "not given", so that a value
    given before the command is not overwritten."""
    def default(value: object) -> object:
        return value if command is None else argparse.SUPPRESS

    options = parser.add_argument_group("common options")
    options.add_argument("-f", "--file", action="append", dest="files", metavar="PATH", default=default(None),
                         help="manifest file or directory (repeatable; default accounts.yaml)")
    options.add_argument("--target", action="append", dest="targets", metavar="NAME", default=default(None),
                         help=command.targets_help if command else "only this target (repeatable)")
    formats = command.formats if command else FORMATS
    # Every format parses (a command refuses those it does not print, saying so: `run`).
    options.add_argument("--format", choices=FORMATS, default=default("text"),
                         help="output format" + (f" ({', '.join(formats)})" if len(formats) > 1 else
                                                 " (text only for this command)"))
    options.add_argument("--debug", action="store_true", default=default(False),
                         help="debug logs and tracebacks, redacted (also PROVISIONER_DEBUG=1)")
    options.add_argument("-q", "--quiet", action="store_true", default=default(False),
                         help="no progress, notes or per-target lines: results, warnings and errors only")
    if command is None or command.parallel:
        options.add_argument("--parallelism", type=int, metavar="N", default=default(4),
                             help="targets (accounts, for rotate) worked on at once (default 4)")
    if command is None or command.shards:
        options.add_argument("--shard", type=_shard, metavar="K/N", default=default(None),
                             help="only shard K of N: a stable share of the targets by name, so that N jobs split "
                                  "a fleet (with --target: a share of those)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="provisioner", description="Database accounts as code: PostgreSQL and MySQL/MariaDB users, "
                    "grants and AWS Secrets Manager secrets from one manifest.", epilog=EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"provisioner {__version__}")
    _common(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser,
                                title="commands")
    for command in COMMANDS:
        examples = "\n".join(f"  {example}" for example in command.examples)
        child = sub.add_parser(command.name, help=command.summary, description=command.description,
                               epilog=f"examples:\n{examples}", usage=command.usage,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        command.arguments(child)
        _common(child, command)
    return parser
