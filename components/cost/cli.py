"""``python -m components.cost``: price a stack's offline render, diff two estimates, refresh prices.

    python -m components.cost --stack prod                    # Markdown tables
    python -m components.cost --stack prod --format json      # the estimate document (html: a page with charts)
    python -m components.cost --stack prod --render base.json # price a render made elsewhere
    python -m components.cost --diff base.json head.json      # what a change costs (Markdown)
    python -m components.cost --refresh-prices --region us-west-2

Prices come from the AWS Price List API when AWS credentials are present (``--prices auto``, the
default; cached), else from the dated snapshot ``components/cost/prices.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from components.cost.estimate import Estimate, estimate
from components.cost.prices import PriceBook
from components.cost.report import to_json, to_table
from runtime.errors import MLServingError, SpecError
from runtime.spec import STACKS_DIR, existing_stack_file, read_stack_config, validate_config

__all__ = ["estimate_stack", "price_book", "bench_rps_per_cpu", "main"]

DEFAULT_REGION = "us-west-2"


def price_book(region: str, mode: str = "auto") -> PriceBook:
    """``snapshot``; ``live`` (the Price List API, cached); ``auto``: live when AWS credentials exist."""
    if mode == "snapshot":
        return PriceBook.from_snapshot(region)
    from components.cost.pricelist import PriceList, have_credentials

    if mode == "auto" and not have_credentials():
        return PriceBook.from_snapshot(region)
    return PriceBook.from_snapshot(region, live=PriceList.from_environment(region))


def bench_rps_per_cpu(path: Path) -> float:
    """Requests per second of one model server on one CPU, from ``bench/modelserver.py --json``."""
    try:
        document = json.loads(path.read_text())
        return float(document["replicaRpsPerCpu"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MLServingError(
            f"{path}: expected the JSON that `bench/modelserver.py --json {path}` writes, with replicaRpsPerCpu ({exc})"
        ) from None


def estimate_stack(
    stack: str,
    stacks_dir: Path | None = None,
    prices: str = "auto",
    bench: Path | None = None,
    render_path: Path | None = None,
    usage: Path | None = None,
) -> Estimate:
    """Render ``stack`` offline (or read a render made elsewhere, e.g. of a pull request's base) and price it.

    ``usage``: an infracost-style usage file whose figures override the stack file's.
    """
    from components.render import display_path, project_error, render

    path = existing_stack_file(stack, stacks_dir)
    config, _ = read_stack_config(path)
    source = display_path(path)
    if usage is not None:
        from components.cost.usage import apply_usage_file

        config, source = apply_usage_file(config, usage), f"{source} with {display_path(usage)}"
    spec = validate_config(config, stack, source)
    if render_path is not None:
        document = _load_json(render_path, "a render written by `python -m components.render`")
    else:
        try:
            document = render(stack, path.parent)
        except Exception as exc:  # noqa: BLE001 - reported as one line
            error = project_error(exc)
            if error is None:
                raise MLServingError(
                    f"{display_path(path)}: the offline render failed: {type(exc).__name__}: {exc}"
                ) from None
            raise error from None
    region = str(config.get("aws:region") or DEFAULT_REGION)
    result = estimate(spec, document, region, price_book(region, prices), bench_rps_per_cpu(bench) if bench else None)
    if "aws:region" not in config and result.items:
        result.findings.notes.append(f"aws:region is not set in {display_path(path)}; priced in {DEFAULT_REGION}")
    return result


def _load_json(
    path: Path, what: str = "an estimate written by `python -m components.cost --format json`"
) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MLServingError(f"{path}: expected {what} ({exc})") from None
    if not isinstance(document, dict):
        raise MLServingError(f"{path}: expected {what} (a JSON object)")
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.cost", description=__doc__.split("\n\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--stack", help="stack name: stacks/Pulumi.<stack>.yaml")
    what.add_argument("--diff", nargs=2, type=Path, metavar=("BASE", "HEAD"), help="two estimates (JSON) to compare")
    what.add_argument(
        "--refresh-prices", action="store_true", help="rewrite the price snapshot from the AWS Price List API"
    )
    parser.add_argument(
        "--stacks-dir", type=Path, default=None, help=f"folder of the stack files (default {STACKS_DIR})"
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
    args = parser.parse_args(argv)
    try:
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
            from components.cost.diff import diff, diff_table

            changes = diff(_load_json(args.diff[0]), _load_json(args.diff[1]))
            sys.stdout.write(
                json.dumps(changes, indent=2, sort_keys=True) + "\n" if args.format == "json" else diff_table(changes)
            )
            return 0
        print(f"estimating stack {args.stack}: rendering offline ...", file=sys.stderr)
        document = to_json(
            estimate_stack(args.stack, args.stacks_dir, args.prices, args.bench_results, args.render, args.usage)
        )
    except SpecError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except MLServingError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if args.format == "html":
        from components.cost.html import to_html

        sys.stdout.write(to_html(document))
    else:
        sys.stdout.write(
            json.dumps(document, indent=2, sort_keys=True) + "\n" if args.format == "json" else to_table(document)
        )
    return 0
