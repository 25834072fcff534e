"""The command line (SPEC 4): parse the arguments, run one command, print — no business logic here. The commands are
described once (`commands`), the parser is built from them (`parser`), each runs in `runs`, and everything printed
goes through `output` (redacted; errors to standard error; with `--format json`, one document on standard output,
an error object when the command fails). Tracebacks appear only with --debug, redacted."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from provisioner import redact
from provisioner.cli.commands import BY_NAME
from provisioner.cli.output import Output
from provisioner.cli.parser import build_parser
from provisioner.cli.runs import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, problem_json
from provisioner.errors import ProvisionerError, ValidationError

__all__ = ["EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK", "build_parser", "main", "run"]


def run() -> None:
    """The console script and `python -m provisioner`: `main`, then an immediate exit once the output is
    flushed. Every connection, pool and file is closed by then; what is left is freeing the objects one by one
    (measurable at fleet scale: benchmarks/), which the operating system does at once."""
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
    if "_ARGCOMPLETE" in os.environ:  # a shell asks for completions: answered from the parser, then exit
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    collecting = gc.isenabled()
    # A short run builds hundreds of thousands of objects that live until it ends (manifest, catalog, plan) and
    # makes next to no cyclic garbage: the cyclic collector would only walk them again and again. The long runs
    # (apply, rotate) keep it.
    if BY_NAME[args.command].short:
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
    command = BY_NAME[args.command]
    output = Output(format=args.format, quiet=args.quiet)
    if not hasattr(args, "parallelism"):
        args.parallelism = 1
    try:
        if args.format not in command.formats:
            output.format = "text"
            raise ProvisionerError(f"{command.name} prints {command.formats[0]} only; --format {args.format} is not "
                                   f"available for it", "run it without --format")
        return command.run(args, output)
    except ValidationError as exc:
        output.err(str(exc))
        output.error_document(exc.message, problems=[problem_json(p) for p in exc.problems])
        return EXIT_ERROR
    except ProvisionerError as exc:
        output.err(f"error: {exc}")
        output.error_document(exc.message, exc.hint)
        if debug:
            output.err(redact.redact(traceback.format_exc()))
        return EXIT_ERROR
    except KeyboardInterrupt:
        output.err("interrupted")
        return 130
    except Exception as exc:
        if debug:
            output.err(redact.redact(traceback.format_exc()))
        else:
            output.err(f"internal error: {type(exc).__name__}: {redact.redact(str(exc))}\n"
                       "    hint: run again with --debug for the (redacted) traceback, and report it")
        output.error_document(f"internal error: {type(exc).__name__}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
