"""The cost rule: a stack's maximum monthly estimate stays within the budget its stack file declares.

A stack rule: it prices the resources it is handed (the offline render's, or the preview's) with
``components.cost`` and reads the budget and usage assumptions from the stack file
(``ml-serving:platform.cost``). Prices come from the repository's dated snapshot unless the
rule's ``prices`` config asks for ``live`` or ``auto``, so a check gives the same answer on every
machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs

from policies.rule import ReportViolation
from runtime.errors import MLServingError, SpecError
from runtime.spec import read_stack_config, stack_file, validate_config

__all__ = ["cost_budget", "render_document"]


def render_document(resources: Iterable[PolicyResource]) -> dict[str, Any]:
    """The resources in the shape of the offline render, which the estimate reads."""
    return {
        "resources": [
            {"type": r.resource_type, "name": r.name, "urn": r.urn, "inputs": dict(r.props or {})} for r in resources
        ]
    }


def _stack_name(resources: list[PolicyResource]) -> str | None:
    for r in resources:
        if r.urn and r.urn.startswith("urn:pulumi:"):
            return r.urn.split(":")[2].split("::")[0]
    return None


def _growth(item: dict[str, Any]) -> str:
    cost, detail = item["monthlyUsd"], item["detail"]
    if cost["max"] > cost["min"]:
        return f"{item['name']} ${cost['min']:,.2f} at minimum -> ${cost['max']:,.2f} at maximum ({detail['min']} -> {detail['max']})"
    return f"{item['name']} ${cost['max']:,.2f} ({detail['max']})"


def cost_budget(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    from components.cost.cli import price_book
    from components.cost.estimate import estimate
    from components.cost.report import to_json

    resources = list(args.resources)
    config = args.get_config() or {}
    stack = _stack_name(resources)
    if stack is None:
        return
    path = Path(config.get("stackFile") or stack_file(stack))
    try:
        stack_config, _ = read_stack_config(path)
        spec = validate_config(stack_config, stack, str(path))
    except SpecError as exc:
        report_violation(f"cannot check the cost budget: {exc.problems[0]}")
        return
    budget = spec.platform.cost.monthly_budget_usd
    if budget is None:
        return
    region = str(stack_config.get("aws:region") or "us-west-2")
    try:
        document = to_json(
            estimate(spec, render_document(resources), region, price_book(region, config.get("prices", "snapshot")))
        )
    except MLServingError as exc:
        report_violation(f"cannot estimate the cost of stack {stack} against its budget: {exc.message}")
        return
    total = document["totalMonthlyUsd"]["max"]
    if total <= budget:
        return
    items = sorted(
        document["items"],
        key=lambda i: (i["monthlyUsd"]["max"] - i["monthlyUsd"]["min"], i["monthlyUsd"]["max"]),
        reverse=True,
    )
    growing = [i for i in items if i["monthlyUsd"]["max"] > i["monthlyUsd"]["min"]]
    named = growing or sorted(items, key=lambda i: i["monthlyUsd"]["max"], reverse=True)[:3]
    when = document["prices"]["asOf"] or {}
    report_violation(
        f"the maximum monthly estimate of stack {stack} is ${total:,.2f}, over its budget of "
        f"${budget:,.2f} (ml-serving:platform.cost.monthlyBudgetUsd) by ${total - budget:,.2f}. "
        f"{'Items that grow to it' if growing else 'Largest items'}: {'; '.join(_growth(i) for i in named)}. "
        "At its maximum the stack may bill this much without anyone deciding to; "
        "lower the node groups' max (cpuNodes/gpuNodes) or the models' autoscaling max, remove idle shadows, "
        f"or raise the budget after review (prices: {', '.join(document['prices']['origins'])}, dated {when.get('newest', '-')})."
    )
