"""Replay a minute of traffic through the platform, starting it unless it already runs.

Card transactions go through the gateway: half like the training data, then a fraud wave. It
prints the canary split, the fallbacks by reason, when the drift monitor flags drift, the
shadow's agreement and the report URLs, then runs the recommender's A/B test until its readout
names a winner. A platform it started is stopped at the end.
"""

from __future__ import annotations

import argparse

from cli.options import positive_float
from cli.up import add_local_options

HELP = "replay traffic through the platform and print what it shows (what `make demo` runs)"
EXAMPLES = """\
  ml-serving demo
  ml-serving demo --demo-seconds 20 --gateway-port 18080
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_local_options(parser)
    parser.add_argument(
        "--demo-seconds", type=positive_float, default=60.0, metavar="SECONDS", help="how long to replay traffic"
    )


def run(args: argparse.Namespace) -> int:
    from runtime.local.__main__ import run as run_local

    return run_local("demo", args)
