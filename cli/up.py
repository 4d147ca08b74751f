"""Start the whole platform on this machine, on loopback, from a stack file.

MLflow (SQLite), one model server per variant, the gateway, the drift monitor and Prometheus
(when installed), each a supervised process with its log in <state>/logs/; demo models are
trained and registered when the registry lacks them. It prints where each part listens, restarts
a part that dies, and stops every process it started on Ctrl-C, SIGTERM or SIGHUP. Ports and the
state folder default to the stack's platform.local; a taken port is named with its part.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.options import add_stack_options, port, positive_float, positive_int

HELP = "start the whole platform on this machine (what `make up` runs)"
EXAMPLES = """\
  ml-serving up
  ml-serving up --gateway-port 18080 --state-dir /tmp/ml-serving-state
"""


def add_local_options(parser: argparse.ArgumentParser) -> None:
    """The options ``up`` and ``demo`` share (environment: ML_SERVING_LOCAL_<NAME>)."""
    add_stack_options(parser, default="local")
    parser.add_argument("--state-dir", type=Path, help="state folder (default: the stack's platform.local.stateDir)")
    for name in ("mlflow", "gateway", "gateway-grpc", "monitor", "model-server-base", "prometheus"):
        parser.add_argument(f"--{name}-port", type=port, metavar="PORT")
    parser.add_argument(
        "--ready-timeout", type=positive_float, metavar="SECONDS", help="how long each part may take to become ready"
    )
    parser.add_argument("--train-rows", type=positive_int, metavar="N", help="rows per demo model version it trains")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_local_options(parser)


def run(args: argparse.Namespace) -> int:
    from runtime.local.__main__ import run as run_local

    return run_local("up", args)
