"""``ml-serving promote --stack <env> [--model M] [--prometheus URL]`` (``python -m runtime.promote``).

Reads each progressive model's current step from Prometheus, decides promote / hold / rollback
(``runtime.promote.analysis``), writes the decision into the stack file and its model lock, and
prints the diff and the evidence. Exit status: 0 nothing changed (hold), 3 a canary moved up
(promoted), 4 a canary was rolled back (over any promotion), 2 an error.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace

from runtime.errors import SpecError
from runtime.promote.analysis import Decision, decide
from runtime.promote.prometheus import Prometheus, outcome_counts, outcome_tau, shadow_counts, step_counts
from runtime.promote.report import render_evidence
from runtime.promote.shadows import shadow_proposals
from runtime.promote.stackedit import StackEdit
from runtime.spec import STACKS_DIR, ModelSpec, load_stack

__all__ = ["main", "run", "EXIT_HOLD", "EXIT_PROMOTE", "EXIT_ROLLBACK", "PROMETHEUS_ENV"]

EXIT_HOLD, EXIT_ERROR, EXIT_PROMOTE, EXIT_ROLLBACK = 0, 2, 3, 4
PROMETHEUS_ENV = "ML_SERVING_PROMETHEUS_URL"


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
        progressive = model.progressive
        if progressive is None:  # _models picks only models with a progressive block
            continue
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
        tau = None
        if model.experiment is not None:
            outcome = outcome_counts(prom, name, model.primary.variant_name, canary.variant_name)
            counts = replace(counts, **outcome)
            tau = outcome_tau(outcome, model.experiment.minimum_detectable_lift)
        decision = decide(name, progressive, canary.weight or 0.0, counts, tau)
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
        margins = {
            d.model: p.max_error_rate_increase for d in decisions if (p := spec.models[d.model].progressive) is not None
        }
        args.report.write_text(render_evidence(document, margins))
    actions = {d.action for d in decisions}
    return EXIT_ROLLBACK if "rollback" in actions else EXIT_PROMOTE if "promote" in actions else EXIT_HOLD


def main(argv: list[str] | None = None) -> int:
    """``python -m runtime.promote``: ``ml-serving promote`` (cli/promote.py declares the options)."""
    from cli import forward

    return forward(["promote"], argv)
