"""``ml-serving cost`` (``python -m components.cost``): price a stack's offline render, diff two estimates.

    ml-serving cost --stack prod                    # Markdown tables
    ml-serving cost --stack prod --format json      # the estimate document (html: a page with charts)
    ml-serving cost --stack prod --render base.json # price a render made elsewhere
    ml-serving cost --diff base.json head.json      # what a change costs (Markdown)
    ml-serving cost --refresh-prices --region us-west-2

Prices come from the AWS Price List API when AWS credentials are present (``--prices auto``, the
default; cached), else from the dated snapshot ``components/cost/prices.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.cost.estimate import Estimate, estimate
from components.cost.prices import PriceBook
from runtime.errors import MLServingError
from runtime.spec import existing_stack_file, read_stack_config, validate_config

__all__ = ["estimate_stack", "price_book", "bench_rps_per_cpu", "load_estimate", "main"]

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
        document = load_estimate(render_path, "a render written by `ml-serving render`")
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


def load_estimate(path: Path, what: str = "an estimate written by `ml-serving cost --format json`") -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MLServingError(f"{path}: expected {what} ({exc})") from None
    if not isinstance(document, dict):
        raise MLServingError(f"{path}: expected {what} (a JSON object)")
    return document


def main(argv: list[str] | None = None) -> int:
    """``python -m components.cost``: ``ml-serving cost`` (cli/cost.py declares the options)."""
    from cli import forward

    return forward(["cost"], argv)
