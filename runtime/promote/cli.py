"""``python -m runtime.promote --stack <env> [--model M] [--prometheus URL]``.

Reads each progressive model's current step from Prometheus, decides promote / hold / rollback
(``runtime.promote.analysis``), writes the decision into the stack file and its model lock, and
prints the diff and the evidence. Exit status: 0 nothing changed (hold), 3 a canary moved up
(promoted), 4 a canary was rolled back (over any promotion), 2 an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from runtime.errors import MLServingError, SpecError
from runtime.promote.analysis import Decision, decide
from runtime.promote.prometheus import Prometheus, shadow_counts, step_counts
from runtime.promote.report import render_evidence
from runtime.promote.shadows import shadow_proposals
from runtime.promote.stackedit import StackEdit
from runtime.spec import STACKS_DIR, ModelSpec, load_stack

__all__ = ["main", "EXIT_HOLD", "EXIT_PROMOTE", "EXIT_ROLLBACK", "PROMETHEUS_ENV"]

EXIT_HOLD, EXIT_ERROR, EXIT_PROMOTE, EXIT_ROLLBACK = 0, 2, 3, 4
PROMETHEUS_ENV = "ML_SERVING_PROMETHEUS_URL"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runtime.promote", description=__doc__.split("\n\n")[1].strip())
    parser.add_argument("--stack", required=True, help="the environment (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--model", default=None, help="only this model (default: every model with a progressive block)")
    parser.add_argument(
        "--prometheus", default=None, help=f"Prometheus base URL (default ${PROMETHEUS_ENV} or http://127.0.0.1:9090)"
    )
    parser.add_argument(
        "--window-s", type=float, default=None, help="count the last N seconds (increase) instead of the live counters"
    )
    parser.add_argument(
        "--stacks-dir", type=Path, default=None, help=f"folder of the stack files (default {STACKS_DIR})"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the diff and evidence, write nothing")
    parser.add_argument(
        "--evidence", type=Path, default=None, help="also write the decisions and evidence as JSON here"
    )
    parser.add_argument("--report", type=Path, default=None, help="also write them as an HTML page with plots here")
    return parser


def _models(spec_models: dict[str, ModelSpec], only: str | None) -> list[str]:
    if only is not None:
        if only not in spec_models:
            raise SpecError([f"--model {only}: the stack has no such model (models: {', '.join(spec_models)})"])
        if spec_models[only].progressive is None:
            raise SpecError(
                [f"--model {only}: models.{only}.progressive is not set; add a progressive block to promote it"]
            )
        return [only]
    return [name for name, model in spec_models.items() if model.progressive is not None]


def _print(decision: Decision) -> None:
    print(f"{decision.model}: {decision.action} (canary weight {decision.weight:g} -> {decision.next_weight:g})")
    for reason in decision.reasons:
        print(f"  - {reason}")


def run(args: argparse.Namespace) -> int:
    stacks_dir = args.stacks_dir or STACKS_DIR
    spec = load_stack(args.stack, stacks_dir)
    prom = Prometheus(args.prometheus or os.environ.get(PROMETHEUS_ENV) or "http://127.0.0.1:9090")
    edit = StackEdit(args.stack, stacks_dir)
    decisions: list[Decision] = []
    proposals: list[dict] = []
    for name in _models(spec.models, args.model):
        model = spec.models[name]
        canaries = [v for v in model.live_variants if v.role == "canary"]
        if not canaries:
            found = shadow_proposals(
                name,
                model,
                shadow_counts(prom, name, args.window_s),
                step_counts(prom, name, model.primary.variant_name, "", args.window_s),
            )
            proposals.extend(found)
            print(f"{name}: no canary to promote" + "".join(f"\n  - proposal: {p['reason']}" for p in found))
            continue
        canary = canaries[0]
        counts = step_counts(prom, name, model.primary.variant_name, canary.variant_name, args.window_s)
        decision = decide(name, model.progressive, canary.weight or 0.0, counts)
        _print(decision)
        decisions.append(decision)
        if decision.next_weight != decision.weight:
            edit.set_weight(name, canary.variant_name, decision.next_weight)
    diff = edit.diff() if args.dry_run else edit.write()
    if diff:
        print(diff, end="")
    document = {
        "stack": args.stack,
        "prometheus": prom.url,
        "autoMerge": spec.platform.auto_merge_promotions,
        "decisions": [d.to_dict() for d in decisions],
        "proposals": proposals,
    }
    if args.evidence is not None:
        args.evidence.write_text(json.dumps(document, indent=2, default=float) + "\n")
    if args.report is not None:
        margins = {d.model: spec.models[d.model].progressive.max_error_rate_increase for d in decisions}
        args.report.write_text(render_evidence(document, margins))
    actions = {d.action for d in decisions}
    return EXIT_ROLLBACK if "rollback" in actions else EXIT_PROMOTE if "promote" in actions else EXIT_HOLD


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except MLServingError as exc:
        for line in exc.problems if isinstance(exc, SpecError) else [exc.message]:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_ERROR
