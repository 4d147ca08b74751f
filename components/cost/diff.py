"""What a change costs: two estimates (base and head of a pull request) side by side, item by item.

Items are matched by name. An estimate that is ``{}`` (a stack the base does not have) counts as
empty, so every item of the other side shows as added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.cost.items import SCENARIOS
from components.cost.report import money

__all__ = ["diff", "diff_table"]

_ZERO = {s: 0.0 for s in SCENARIOS}


def _delta(base: Mapping[str, float], head: Mapping[str, float]) -> dict[str, float]:
    return {s: round(head.get(s, 0.0) - base.get(s, 0.0), 2) for s in SCENARIOS}


def diff(base: Mapping[str, Any], head: Mapping[str, Any]) -> dict[str, Any]:
    before = {i["name"]: i for i in base.get("items") or []}
    after = {i["name"]: i for i in head.get("items") or []}
    items = []
    for name in sorted(set(before) | set(after)):
        b = before.get(name, {}).get("monthlyUsd", _ZERO)
        h = after.get(name, {}).get("monthlyUsd", _ZERO)
        delta = _delta(b, h)
        if any(delta.values()):
            status = "added" if name not in before else "removed" if name not in after else "changed"
            detail = {"base": before.get(name, {}).get("detail", {}), "head": after.get(name, {}).get("detail", {})}
            items.append(
                {"name": name, "status": status, "base": dict(b), "head": dict(h), "delta": delta, "detail": detail}
            )
    models_before = {m["model"]: m for m in base.get("models") or []}
    models_after = {m["model"]: m for m in head.get("models") or []}
    models = []
    for name in sorted(set(models_before) | set(models_after)):
        b, h = models_before.get(name, {}), models_after.get(name, {})
        total = _delta(b.get("monthlyUsd", {}).get("total", _ZERO), h.get("monthlyUsd", {}).get("total", _ZERO))
        shadow = _delta(b.get("monthlyUsd", {}).get("shadow", _ZERO), h.get("monthlyUsd", {}).get("shadow", _ZERO))
        if any(total.values()) or b.get("perMillionPredictionsUsd") != h.get("perMillionPredictionsUsd"):
            models.append(
                {
                    "model": name,
                    "base": b.get("monthlyUsd", {}).get("total", _ZERO),
                    "head": h.get("monthlyUsd", {}).get("total", _ZERO),
                    "delta": total,
                    "shadowDelta": shadow,
                    "perMillion": {
                        "base": (b.get("perMillionPredictionsUsd") or {}).get("total"),
                        "head": (h.get("perMillionPredictionsUsd") or {}).get("total"),
                    },
                }
            )
    totals_b, totals_h = base.get("totalMonthlyUsd", _ZERO), head.get("totalMonthlyUsd", _ZERO)
    return {
        "stack": head.get("stack") or base.get("stack"),
        "items": items,
        "total": {"base": dict(totals_b), "head": dict(totals_h), "delta": _delta(totals_b, totals_h)},
        "models": models,
        "budgetUsd": head.get("budgetUsd"),
        "prices": {"base": base.get("prices"), "head": head.get("prices")},
        "warnings": [w for w in head.get("warnings") or [] if w not in (base.get("warnings") or [])],
    }


def _signed(value: float) -> str:
    return "0.00" if value == 0 else f"{value:+,.2f}"


def _per(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4f}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def diff_table(changes: Mapping[str, Any]) -> str:
    total = changes["total"]
    lines = [f"### {changes['stack']}: monthly cost, base -> head (USD)", ""]
    if not changes["items"]:
        lines.append(
            f"No change in cost: {money(total['head']['expected'])} expected, {money(total['head']['max'])} at maximum."
        )
    else:
        lines += [
            _row(["item", "", "expected", "change", "max", "change"]),
            _row(["---", "---", "--:", "--:", "--:", "--:"]),
        ]
        for item in changes["items"]:
            what = item["detail"].get("head", {}).get("expected") or item["detail"].get("base", {}).get("expected", "")
            lines.append(
                _row(
                    [
                        f"`{item['name']}`",
                        f"{item['status']}: {what}",
                        money(item["head"]["expected"]),
                        _signed(item["delta"]["expected"]),
                        money(item["head"]["max"]),
                        _signed(item["delta"]["max"]),
                    ]
                )
            )
        lines.append(
            _row(
                [
                    "**total**",
                    "",
                    f"**{money(total['head']['expected'])}**",
                    f"**{_signed(total['delta']['expected'])}**",
                    f"**{money(total['head']['max'])}**",
                    f"**{_signed(total['delta']['max'])}**",
                ]
            )
        )
    if changes["models"]:
        lines += [
            "",
            _row(["model", "expected", "change", "of which shadows", "max change", "per 1M predictions"]),
            _row(["---", "--:", "--:", "--:", "--:", "--:"]),
        ]
        for m in changes["models"]:
            per = m["perMillion"]
            lines.append(
                _row(
                    [
                        m["model"],
                        money(m["head"]["expected"]),
                        _signed(m["delta"]["expected"]),
                        _signed(m["shadowDelta"]["expected"]),
                        _signed(m["delta"]["max"]),
                        f"{_per(per['base'])} -> {_per(per['head'])}",
                    ]
                )
            )
    if changes.get("budgetUsd"):
        share = 100 * total["head"]["max"] / changes["budgetUsd"]
        lines += [
            "",
            f"Budget {money(changes['budgetUsd'])} a month: the maximum is {share:.0f}% of it"
            + (" (over: the policy check fails)" if share > 100 else "")
            + ".",
        ]
    head_prices = changes["prices"].get("head") or {}
    when = head_prices.get("asOf") or {}
    if head_prices:
        lines += ["", f"Prices: {', '.join(head_prices.get('origins') or [])}, dated {when.get('newest', '-')}."]
    if changes["warnings"]:
        lines += ["", "New warnings:", *(f"- {w}" for w in changes["warnings"])]
    return "\n".join(lines) + "\n"
