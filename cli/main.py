"""The ``ml-serving`` parser: one subcommand per module of ``COMMANDS``, one error format, one set of exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Protocol, cast

from runtime.errors import MLServingError

__all__ = ["COMMANDS", "EXIT_OK", "EXIT_FAILED", "EXIT_BAD_INPUT", "build_parser", "main", "forward", "problems"]

# A new command is one module ``cli/<name>.py`` and one line here.
COMMANDS = (
    "up",
    "demo",
    "render",
    "check",
    "lock",
    "promote",
    "cost",
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
TRACEBACK_ENV = "ML_SERVING_TRACEBACK"

DESCRIPTION = """\
Serve MLflow models with every rollout declared in a stack file (stacks/Pulumi.<stack>.yaml):
run the whole platform on this machine, render and check a stack offline, lock its models,
promote its canaries and price it."""

EPILOG = f"""\
examples:
  ml-serving up                          # the platform on loopback, from stacks/Pulumi.local.yaml
  ml-serving check --stack prod          # schemas, deployability and the policy pack, offline
  ml-serving render --stack prod > render.json
  ml-serving <command> --help            # each command's options and examples

exit status:
  0  ok
  1  a check failed (a mandatory policy violation, a deployability or schema error, a part
     of the platform that did not start)
  2  bad input: an unknown stack, a stack file that does not validate (each error names the
     file and the key path), a missing or stale model lock, bad arguments
  promote also exits 3 when a canary moved up and 4 when one was rolled back.

Errors print one line per problem, never a traceback (set {TRACEBACK_ENV}=1 to see one for an
unexpected error)."""


class Command(Protocol):
    """What a subcommand module offers (``cli/render.py`` is one)."""

    __doc__: str | None
    HELP: str
    EXAMPLES: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def command(name: str) -> Command:
    module: ModuleType = importlib.import_module(f"cli.{name}")
    return cast(Command, module)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ml-serving",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = command(name)
        sub = commands.add_parser(
            name,
            help=module.HELP,
            description=(module.__doc__ or module.HELP).strip(),
            epilog=f"examples:\n{module.EXAMPLES.rstrip()}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def problems(exc: MLServingError) -> list[str]:
    """One line per problem: a ``SpecError`` lists its own, any other project error has one message."""
    listed = getattr(exc, "problems", None)
    return list(listed) if listed else [exc.message]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # bad arguments: usage and one line, exit 2
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return int(run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MLServingError as exc:
        for line in problems(exc):
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, unless asked for
        if os.environ.get(TRACEBACK_ENV):
            traceback.print_exc()
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def forward(command_argv: Sequence[str], argv: Sequence[str] | None = None) -> int:
    """What a ``python -m`` module of the project runs: ``ml-serving <command_argv...> <argv...>``."""
    return main([*command_argv, *(sys.argv[1:] if argv is None else argv)])
