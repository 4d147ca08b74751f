"""Options the subcommands share, and argument types that name what they expected."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_stack_options", "positive_float", "positive_int", "port"]


def add_stack_options(
    parser: argparse.ArgumentParser,
    *,
    default: str | None = None,
    group: argparse._MutuallyExclusiveGroup | None = None,
) -> None:
    """``--stack`` (required unless ``default``, or one choice of ``group``) and ``--stacks-dir``."""
    where = "the file Pulumi.<stack>.yaml in the stacks folder"
    if default is not None:
        (group or parser).add_argument("--stack", default=default, help=f"{where} (default: {default})")
    else:
        (group or parser).add_argument("--stack", required=group is None, help=where)
    parser.add_argument(
        "--stacks-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of the stack files and their model locks (default: stacks/ of the checkout)",
    )


def _number(text: str, kind: type, what: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    return float(_number(text, float, "a number of seconds above 0"))


def positive_int(text: str) -> int:
    return int(_number(text, int, "a whole number above 0"))


def port(text: str) -> int:
    value = int(_number(text, int, "a TCP port from 1 to 65535"))
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port from 1 to 65535, got {text!r}")
    return value
