"""Price a stack's offline render at its minimum, expected and maximum size; diff two estimates.

Every item of the estimate (nodes, control plane, databases, load balancers, NAT, storage,
transfer) comes from the render and the stack file's platform.cost, with per-model live, canary
and shadow shares. Prices come from the AWS Price List API when AWS credentials are present
(--prices auto, cached), else from the dated snapshot components/cost/prices.json; the output
says which it used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.options import add_stack_options

HELP = "estimate what a stack costs per month, or what a change costs (--diff)"
EXAMPLES = """\
  ml-serving cost --stack prod --prices snapshot            # Markdown tables
  ml-serving cost --stack prod --format json > head.json    # the estimate document (html: a page with charts)
  ml-serving cost --stack prod --usage usage.yml            # usage figures kept apart, infracost-style
  ml-serving cost --diff base.json head.json                # what a change costs, item by item
  ml-serving cost --refresh-prices --region us-west-2       # rewrite the price snapshot (AWS credentials)
"""

DEFAULT_REGION = "us-west-2"  # components.cost.cli.DEFAULT_REGION, named here so --help imports nothing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    add_stack_options(parser, group=what)
    what.add_argument("--diff", nargs=2, type=Path, metavar=("BASE", "HEAD"), help="two estimates (JSON) to compare")
    what.add_argument(
        "--refresh-prices", action="store_true", help="rewrite the price snapshot from the AWS Price List API"
    )
    parser.add_argument(
        "--format", choices=("table", "json", "html"), default="table", help="html: one page with charts"
    )
    parser.add_argument(
        "--prices", choices=("auto", "snapshot", "live"), default="auto", help="where unit prices come from"
    )
    parser.add_argument(
        "--bench-results", type=Path, default=None, help="bench/modelserver.py --json output (replica throughput)"
    )
    parser.add_argument(
        "--render", type=Path, default=None, help="price this render (JSON) instead of rendering the stack"
    )
    parser.add_argument(
        "--usage",
        type=Path,
        default=None,
        help="infracost-style usage file (version 0.1) overriding the stack file's figures",
    )
    parser.add_argument("--region", default=DEFAULT_REGION, help="region to refresh (with --refresh-prices)")


def run(args: argparse.Namespace) -> int:
    if args.refresh_prices:
        from components.cost.pricelist import refresh_snapshot

        refreshed, missing = refresh_snapshot(args.region)
        print(
            f"refreshed {refreshed} price(s) for {args.region}"
            + (f"; not in the Price List: {', '.join(missing)}" if missing else ""),
            file=sys.stderr,
        )
        return 0
    if args.diff:
        from components.cost.cli import load_estimate
        from components.cost.diff import diff, diff_table

        changes = diff(load_estimate(args.diff[0]), load_estimate(args.diff[1]))
        sys.stdout.write(
            json.dumps(changes, indent=2, sort_keys=True) + "\n" if args.format == "json" else diff_table(changes)
        )
        return 0
    from components.cost.cli import estimate_stack
    from components.cost.report import to_json, to_table

    print(f"estimating stack {args.stack}: rendering offline ...", file=sys.stderr)
    document = to_json(
        estimate_stack(args.stack, args.stacks_dir, args.prices, args.bench_results, args.render, args.usage)
    )
    if args.format == "html":
        from components.cost.html import to_html

        sys.stdout.write(to_html(document))
    else:
        sys.stdout.write(
            json.dumps(document, indent=2, sort_keys=True) + "\n" if args.format == "json" else to_table(document)
        )
    return 0
