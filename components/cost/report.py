"""An estimate as JSON (what the diff and the policy read) and as Markdown tables (terminal and PR)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.cost.estimate import Estimate
from components.cost.items import HOURS_PER_MONTH, SCENARIOS
from components.cost.shares import model_costs

__all__ = ["to_json", "to_table", "money"]


def money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def to_json(est: Estimate) -> dict[str, Any]:
    cost = est.spec.platform.cost
    return {
        "stack": est.stack,
        "region": est.region,
        "currency": "USD",
        "hoursPerMonth": HOURS_PER_MONTH,
        "scenarios": list(SCENARIOS),
        "prices": est.book.summary(),
        "budgetUsd": cost.monthly_budget_usd,
        "totalMonthlyUsd": est.totals,
        "items": [item.to_json() for item in est.items],
        "nodeGroups": [
            {
                "name": s.group.name,
                "instanceType": s.instance_type,
                "capacityType": s.group.capacity_type,
                "allocatable": {
                    "cpuM": s.allocatable.cpu_m,
                    "memoryMib": s.allocatable.memory_mib,
                    "gpus": s.allocatable.gpus,
                    "pods": s.allocatable.pods,
                },
                "nodes": dict(s.nodes),
                "nodeHours": {k: n * HOURS_PER_MONTH for k, n in s.nodes.items()},
                "gpuNodeHours": {k: n * HOURS_PER_MONTH if s.allocatable.gpus else 0 for k, n in s.nodes.items()},
            }
            for s in est.groups
        ],
        "models": [m.to_json() for m in model_costs(est)],
        "usage": cost.usage.model_dump(mode="json", by_alias=True),
        "notes": list(est.findings.notes),
        "warnings": list(est.findings.warnings),
    }


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def to_table(document: Mapping[str, Any]) -> str:
    """Markdown: the items with the totals, the node groups, the models, then notes and warnings."""
    prices = document["prices"]
    when = prices.get("asOf") or {}
    lines = [
        f"### {document['stack']}: monthly estimate (USD, {document['hoursPerMonth']} h/month, {document['region']})",
        "",
        f"Prices: {', '.join(prices['origins']) or 'none'} ({prices['snapshot'] if 'snapshot' in prices['origins'] else prices.get('live')}), "
        f"figures dated {when.get('oldest', '-')}"
        + (f" to {when['newest']}" if when.get("newest") != when.get("oldest") else "")
        + (
            f"; not in the live Price List, from the snapshot: {', '.join(prices['missingLive'])}"
            if prices.get("missingLive")
            else ""
        ),
        "",
        _row(["item", "what (expected)", "min", "expected", "max"]),
        _row(["---", "---", "--:", "--:", "--:"]),
    ]
    for item in document["items"]:
        lines.append(
            _row(
                [
                    f"`{item['name']}`",
                    item["detail"].get("expected", ""),
                    *(money(item["monthlyUsd"][s]) for s in SCENARIOS),
                ]
            )
        )
    total = document["totalMonthlyUsd"]
    lines.append(_row(["**total**", "", *(f"**{money(total[s])}**" for s in SCENARIOS)]))
    if document.get("budgetUsd"):
        lines += [
            "",
            f"Budget: {money(document['budgetUsd'])} a month; the maximum is {100 * total['max'] / document['budgetUsd']:.0f}% of it.",
        ]
    if document["nodeGroups"]:
        lines += [
            "",
            _row(
                ["node group", "instance", "allocatable", "nodes min / expected / max", "GPU node-hours expected / max"]
            ),
            _row(["---", "---", "---", "--:", "--:"]),
        ]
        for g in document["nodeGroups"]:
            a = g["allocatable"]
            lines.append(
                _row(
                    [
                        g["name"],
                        f"{g['instanceType']} {g['capacityType'].lower().replace('_', '-')}",
                        f"{a['cpuM']}m, {a['memoryMib']}Mi, {a['gpus']} GPU, {a['pods']} pods",
                        " / ".join(str(g["nodes"][s]) for s in SCENARIOS),
                        f"{g['gpuNodeHours']['expected']:,} / {g['gpuNodeHours']['max']:,}",
                    ]
                )
            )
    if document["models"]:
        lines += [
            "",
            _row(
                [
                    "model",
                    "live",
                    "canary",
                    "shadow",
                    "total (expected)",
                    "max",
                    "per 1M predictions",
                    "per 1M at capacity",
                ]
            ),
            _row(["---", "--:", "--:", "--:", "--:", "--:", "--:", "--:"]),
        ]
        for m in document["models"]:
            cost = m["monthlyUsd"]
            per = m["perMillionPredictionsUsd"]
            lines.append(
                _row(
                    [
                        m["model"],
                        money(cost["live"]["expected"]),
                        money(cost["canary"]["expected"]),
                        money(cost["shadow"]["expected"]),
                        money(cost["total"]["expected"]),
                        money(cost["total"]["max"]),
                        "-" if per is None else f"{per['total']:,.4f} (shadow {per['shadow']:,.4f})",
                        "-" if m["perMillionAtCapacityUsd"] is None else f"{m['perMillionAtCapacityUsd']:,.4f}",
                    ]
                )
            )
        lines += [
            "",
            _row(["variant", "role", "node group", "node share", "replicas min / expected / max", "expected", "max"]),
            _row(["---", "---", "---", "--:", "--:", "--:", "--:"]),
        ]
        for m in document["models"]:
            for v in m["variants"]:
                lines.append(
                    _row(
                        [
                            f"{m['model']}/{v['variant']}",
                            v["role"],
                            f"{v['nodeGroup']} ({v['instanceType']})",
                            f"{100 * v['nodeShare']:.1f}%",
                            " / ".join(str(v["replicas"][s]) for s in SCENARIOS),
                            money(v["monthlyUsd"]["expected"]),
                            money(v["monthlyUsd"]["max"]),
                        ]
                    )
                )
    for title, key in (("Assumptions", "notes"), ("Warnings", "warnings")):
        if document.get(key):
            lines += ["", f"{title}:", *(f"- {line}" for line in document[key])]
    return "\n".join(lines) + "\n"
