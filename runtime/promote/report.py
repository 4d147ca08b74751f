"""The promotion evidence as an HTML page: per model the verdict, its reasons, and a plot of the
error test's confidence sequence against 0 (rollback side) and the allowed increase (promotion
side), beside the per-variant counts."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["interval_chart", "render_evidence"]

_COLOURS = {"promote": "#1a7f37", "hold": "#9a6700", "rollback": "#cf222e"}


def interval_chart(low: float, high: float, estimate: float, margin: float, width: int = 520, height: int = 70) -> str:
    """The confidence sequence [low, high] on an axis that shows 0 and ``margin``."""
    span = max(abs(low), abs(high), margin) * 1.2 or 1.0
    x = lambda v: (v + span) / (2 * span) * (width - 20) + 10  # noqa: E731 - a local scale
    y = height / 2
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="confidence sequence of the error difference">'
        f'<line x1="{x(0):.1f}" y1="5" x2="{x(0):.1f}" y2="{height - 15}" stroke="#57606a" stroke-dasharray="3"/>'
        f'<line x1="{x(margin):.1f}" y1="5" x2="{x(margin):.1f}" y2="{height - 15}" stroke="#cf222e" stroke-dasharray="3"/>'
        f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" stroke="#0969da" stroke-width="4"/>'
        f'<circle cx="{x(estimate):.1f}" cy="{y:.1f}" r="5" fill="#0969da"/>'
        f'<text x="{x(0):.1f}" y="{height - 2}" font-size="10" text-anchor="middle">0</text>'
        f'<text x="{x(margin):.1f}" y="{height - 2}" font-size="10" text-anchor="middle">+{margin:g}</text>'
        "</svg>"
    )


def _model(decision: dict[str, Any], margin: float) -> str:
    evidence = decision.get("evidence") or {}
    action = decision["action"]
    parts = [
        f'<h2>{escape(decision["model"])}: <span style="color:{_COLOURS.get(action, "#000")}">{escape(action)}</span>'
        f" (canary weight {decision['weight']:g} &rarr; {decision['next_weight']:g})</h2>",
        "<ul>" + "".join(f"<li>{escape(reason)}</li>" for reason in decision["reasons"]) + "</ul>",
    ]
    if evidence.get("errorConfidenceSequence"):
        low, high = evidence["errorConfidenceSequence"]
        parts.append(
            "<p>Canary minus primary error rate: estimate and always-valid confidence sequence "
            f"(level {1 - evidence['alpha']:g}); dashed: 0 and the allowed increase.</p>"
        )
        parts.append(interval_chart(low, high, evidence["errorDifference"], margin))
        counts = evidence["counts"]
        rows = "".join(
            f"<tr><td>{who}</td><td>{counts[f'{who}_calls']:g}</td><td>{counts[f'{who}_errors']:g}</td>"
            f"<td>{counts[f'{who}_p99_s'] * 1000:.1f} ms</td></tr>"
            for who in ("primary", "canary")
        )
        parts.append(f"<table><tr><th>variant</th><th>calls</th><th>errors</th><th>p99</th></tr>{rows}</table>")
    return "<section>" + "".join(parts) + "</section>"


def render_evidence(document: dict[str, Any], margins: dict[str, float]) -> str:
    """``document`` as ``promote --evidence`` writes it; ``margins``: maxErrorRateIncrease per model."""
    sections = (
        "".join(_model(d, margins.get(d["model"], 0.01)) for d in document["decisions"])
        or "<p>No progressive model.</p>"
    )
    proposals = "".join(f"<li>{escape(p['reason'])}</li>" for p in document.get("proposals", []))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>promotion: {escape(document['stack'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}</style></head><body>"
        f"<h1>Promotion of stack {escape(document['stack'])}</h1><p>Metrics from {escape(document['prometheus'])}.</p>"
        f"{sections}" + (f"<h2>Proposals</h2><ul>{proposals}</ul>" if proposals else "") + "</body></html>"
    )
