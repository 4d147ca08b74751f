"""Promote, hold or roll back each progressive canary of a stack from its Prometheus metrics.

Reads each progressive model's current step from Prometheus, decides (runtime.promote.analysis),
writes the decision into the stack file and its model lock, and prints the diff and the evidence.
Exit 0: nothing changed (hold); 3: a canary moved up (promoted); 4: a canary was rolled back
(over any promotion); 2: an error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.options import add_stack_options, positive_float

HELP = "promote, hold or roll back canaries from Prometheus; writes the stack file (exit 0/3/4)"
EXAMPLES = """\
  ml-serving promote --stack local --dry-run
  ml-serving promote --stack prod --prometheus http://prometheus.monitoring:9090 --evidence evidence.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stack_options(parser)
    parser.add_argument("--model", default=None, help="only this model (default: every model with a progressive block)")
    parser.add_argument(
        "--prometheus",
        default=None,
        metavar="URL",
        help="Prometheus base URL (default: $ML_SERVING_PROMETHEUS_URL or http://127.0.0.1:9090)",
    )
    parser.add_argument(
        "--window-s",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="count the last N seconds (increase) instead of the live counters",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the diff and evidence, write nothing")
    parser.add_argument(
        "--evidence", type=Path, default=None, metavar="FILE", help="also write the decisions and evidence as JSON here"
    )
    parser.add_argument(
        "--report", type=Path, default=None, metavar="FILE", help="also write them as an HTML page with plots here"
    )


def run(args: argparse.Namespace) -> int:
    from runtime.promote.cli import run as promote

    return promote(args)
