"""``GET /experiments/{model}/report``: the readout as one HTML page, with the relative lift over
time and its always-valid confidence band drawn as inline SVG."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render_readout", "lift_chart"]

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}.decision{font-size:1.6em;font-weight:bold}
.win{color:#1b5e20}.srm{color:#b00020}.wait{color:#555}small{color:#666}"""


def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def lift_chart(history: list[dict[str, Any]], width: int = 720, height: int = 260) -> str:
    """Relative lift (line) with its always-valid band (shaded) against users, as an SVG element."""
    points = [p for p in history if p.get("lift") is not None and p.get("band_low") is not None]
    if len(points) < 2:
        return "<p><small>The chart starts once both arms have users and conversions.</small></p>"
    xs = [p["users"] for p in points]
    values = [v for p in points for v in (p["band_low"], p["band_high"], p["lift"])]
    low, high = min(min(values), 0.0), max(max(values), 0.0)
    # The band is wide at first; clip it so that the lift stays readable.
    span = max(high - low, 1e-9)
    pad = 40

    def x(users: float) -> float:
        return pad + (users - xs[0]) / max(xs[-1] - xs[0], 1) * (width - 2 * pad)

    def y(value: float) -> float:
        return height - pad / 2 - (min(max(value, low), high) - low) / span * (height - pad)

    band = [f"{x(p['users']):.1f},{y(p['band_high']):.1f}" for p in points]
    band += [f"{x(p['users']):.1f},{y(p['band_low']):.1f}" for p in reversed(points)]
    line = " ".join(f"{x(p['users']):.1f},{y(p['lift']):.1f}" for p in points)
    zero = y(0.0)
    labels = "".join(
        f'<text x="4" y="{y(v) + 4:.1f}" font-size="11">{v * 100:+.0f}%</text>'
        for v in (low, 0.0, high)
        if v == 0.0 or abs(v) > 1e-9
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        f'<polygon points="{" ".join(band)}" fill="#1565c0" fill-opacity="0.18"><title>always-valid band</title></polygon>'
        f'<line x1="{pad}" x2="{width - pad}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#888" stroke-dasharray="4 3"/>'
        f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="2"><title>relative lift of B over A</title></polyline>'
        f'{labels}<text x="{pad}" y="{height - 2}" font-size="11">{xs[0]} users</text>'
        f'<text x="{width - pad}" y="{height - 2}" font-size="11" text-anchor="end">{xs[-1]} users</text></svg>'
    )


def render_readout(readout: dict[str, Any]) -> str:
    decision = readout["decision"]
    css = "srm" if decision.startswith("SRM") else "win" if "wins" in decision else "wait"
    rows = []
    for label, arm in readout["arms"].items():
        rate, revenue = arm["conversion_rate"], arm["revenue_per_user"]
        rows.append(
            f"<tr><td>{label}</td><td>{escape(arm['variant'])}</td><td>{arm['weight']:g}%</td><td>{arm['users']}</td>"
            f"<td>{arm['exposures']}</td><td>{arm['conversions']}</td>"
            f"<td>{_pct(rate['estimate'])} [{_pct(rate['low'])}, {_pct(rate['high'])}]</td>"
            f"<td>{_num(revenue['estimate'], 2)} [{_num(revenue['low'], 2)}, {_num(revenue['high'], 2)}]</td>"
            f"<td>{arm['switched_users']}</td></tr>"
        )
    lift, srm, seq = readout["lift"], readout["srm"], readout["sequential"]
    rails = readout["guardrails"]
    rail_text = (
        "not available (no gateway report)"
        if not rails["available"]
        else "ok"
        if rails["ok"]
        else "; ".join(escape(b) for b in rails["breaches"])
    )
    after = readout["decided_after_users"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>A/B readout: {escape(readout["model"])}</title>
<style>{_STYLE}</style></head><body>
<h1>A/B readout: {escape(readout["model"])}</h1>
<p class="decision {css}">{escape(decision)}</p><p>{escape(readout["reason"])}{
        f" (after {after} users)" if after else ""
    }.</p>
<table><tr><th>arm</th><th>variant</th><th>weight</th><th>users</th><th>exposures</th><th>users with a {
        escape(readout["outcome"])
    }</th>
<th>{escape(readout["outcome"])} rate [95%]</th><th>revenue per user [95%]</th><th>switched</th></tr>{
        "".join(rows)
    }</table>
<p>Relative lift of B over A: <b>{_pct(lift["estimate"], 1)}</b> [95%: {_pct(lift["low"], 1)}, {
        _pct(lift["high"], 1)
    }]</p>
<p>Always-valid test (mSPRT): {
        "not started (each arm needs users first)"
        if seq is None
        else f"p = {seq['p_value']:.4g}, difference {seq['difference']:+.4f} in [{seq['low']:+.4f}, {seq['high']:+.4f}] at any look"
    }</p>
<p>Sample ratio: chi-square {srm["chi2"]:.2f}, p = {srm["p_value"]:.3g} ({
        "MISMATCH" if srm["mismatch"] else "as declared"
    };
 observed {", ".join(f"{v:.0f}" for v in srm["observed"])}, expected {
        ", ".join(f"{v:.1f}" for v in srm["expected"])
    })</p>
<p>Users per arm needed to find a {_pct(readout["minimum_detectable_lift"], 0)} lift: {
        readout["required_users_per_arm"] or "n/a"
    };
 users so far: {readout["users"]} (untracked: {readout["untracked_users"]}; outcomes that joined nobody: {
        readout["unjoined_outcomes"]
    })</p>
<p>Guardrails: {rail_text}</p>
<h2>Lift over time</h2>{lift_chart(readout["history"])}
<p><small>Shaded: the always-valid confidence band of the lift; it may be read at any moment.</small></p>
</body></html>"""
