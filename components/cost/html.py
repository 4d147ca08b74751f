"""An estimate as one HTML page: the totals by category per scenario and the models' shares as
stacked bars (inline SVG drawn here), then the items, the assumptions and the warnings."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from components.cost.items import SCENARIOS
from components.cost.report import money

__all__ = ["to_html", "stacked_bars"]

_COLOURS = ("#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#546e7a")
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}td.n,th.n{text-align:right}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}.warn{color:#b00020}"""


def stacked_bars(rows: list[tuple[str, dict[str, float]]], parts: list[str], width: int = 720, bar: int = 22) -> str:
    """One horizontal bar per row, its ``parts`` stacked left to right, all on one scale."""
    top = max((sum(values.get(p, 0) for p in parts) for _, values in rows), default=0) or 1
    label_w, height = 110, len(rows) * (bar + 8) + 4
    shapes = []
    for i, (label, values) in enumerate(rows):
        y, x = 4 + i * (bar + 8), float(label_w)
        shapes.append(f'<text x="0" y="{y + bar * 0.7:.1f}" font-size="12">{escape(label)}</text>')
        for j, part in enumerate(parts):
            w = values.get(part, 0) / top * (width - label_w - 90)
            if w > 0:
                shapes.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{_COLOURS[j % len(_COLOURS)]}">'
                    f"<title>{escape(part)}: ${money(values.get(part, 0))}</title></rect>"
                )
                x += w
        shapes.append(
            f'<text x="{x + 4:.1f}" y="{y + bar * 0.7:.1f}" font-size="12">${money(sum(values.get(p, 0) for p in parts))}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        + "".join(shapes)
        + "</svg>"
    )


def _legend(parts: list[str]) -> str:
    return (
        '<p class="legend">'
        + "".join(
            f'<span style="background:{_COLOURS[j % len(_COLOURS)]}"></span>{escape(p)}' for j, p in enumerate(parts)
        )
        + "</p>"
    )


def to_html(document: Mapping[str, Any]) -> str:
    categories = sorted({i["category"] for i in document["items"]})
    by_scenario = [
        (s, {c: sum(i["monthlyUsd"][s] for i in document["items"] if i["category"] == c) for c in categories})
        for s in SCENARIOS
    ]
    roles = ["live", "canary", "shadow"]
    by_model = [(m["model"], {r: m["monthlyUsd"][r]["expected"] for r in roles}) for m in document["models"]]
    prices = document["prices"]
    when = prices.get("asOf") or {}
    rows = "".join(
        f"<tr><td><code>{escape(i['name'])}</code></td><td>{escape(i['detail'].get('expected', ''))}</td>"
        + "".join(f'<td class="n">{money(i["monthlyUsd"][s])}</td>' for s in SCENARIOS)
        + "</tr>"
        for i in document["items"]
    )
    total = document["totalMonthlyUsd"]
    notes = "".join(f"<li>{escape(n)}</li>" for n in document.get("notes") or [])
    warnings = "".join(f'<li class="warn">{escape(w)}</li>' for w in document.get("warnings") or [])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{escape(document["stack"])}: monthly cost estimate</title>
<style>{_STYLE}</style></head><body>
<h1>{escape(document["stack"])}: monthly cost estimate</h1>
<p>USD, {document["hoursPerMonth"]} h a month, {escape(document["region"])}. Prices: {escape(", ".join(prices["origins"]))},
dated {escape(str(when.get("oldest", "-")))} to {escape(str(when.get("newest", "-")))}.
{f"Budget: ${money(document['budgetUsd'])}." if document.get("budgetUsd") else ""}</p>
<h2>By category</h2>{_legend(categories)}{stacked_bars(by_scenario, categories)}
<h2>Per model (expected)</h2>{_legend(roles)}{stacked_bars(by_model, roles) if by_model else "<p>No models.</p>"}
<h2>Items</h2><table><tr><th>item</th><th>what (expected)</th>{"".join(f'<th class="n">{s}</th>' for s in SCENARIOS)}</tr>{rows}
<tr><th>total</th><th></th>{"".join(f'<th class="n">{money(total[s])}</th>' for s in SCENARIOS)}</tr></table>
{f"<h2>Assumptions</h2><ul>{notes}</ul>" if notes else ""}{f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else ""}
</body></html>
"""
