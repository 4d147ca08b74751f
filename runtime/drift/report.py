"""``GET /report/{model}``: one HTML page with, per variant and column, the reference and the
latest window as bar charts (inline SVG drawn here), the test, its score and the verdict."""

from __future__ import annotations

from html import escape

import numpy as np

from runtime.drift.detector import FeatureVerdict, reference_counts
from runtime.drift.monitor import VariantMonitor
from runtime.drift.profile import UNSEEN, NumericProfile, ReferenceProfile

__all__ = ["render_report", "bar_chart", "history_chart"]

_MAX_BARS = 25
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:middle}
.drift{color:#b00020;font-weight:bold}.ok{color:#1b5e20}.legend span{display:inline-block;width:12px;height:12px}"""


def bar_chart(labels: list[str], reference: np.ndarray, current: np.ndarray, width: int = 360, height: int = 90) -> str:
    """Grouped bars of two share vectors (reference grey, current blue) as an SVG element."""
    ref = reference / reference.sum() if reference.sum() else reference
    cur = current / current.sum() if current.sum() else current
    top = max(float(ref.max(initial=0)), float(cur.max(initial=0)), 1e-9)
    step = width / max(len(labels), 1)
    bars = []
    for i, label in enumerate(labels):
        for j, (share, colour) in enumerate(((ref[i], "#9e9e9e"), (cur[i], "#1565c0"))):
            h = share / top * (height - 4)
            bars.append(
                f'<rect x="{i * step + j * step / 2:.1f}" y="{height - h:.1f}" width="{max(step / 2 - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(label)}: {share:.1%}</title></rect>'
            )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        + "".join(bars)
        + "</svg>"
    )


def history_chart(history: list[dict], threshold: float, width: int = 360, height: int = 60) -> str:
    """Drift share of the recent windows as bars (red when the dataset drifted), with the threshold line."""
    step = width / max(len(history), 1)
    bars = []
    for i, window in enumerate(history):
        h = window["drift_share"] * (height - 2)
        colour = "#b00020" if window["dataset_drifted"] else "#1565c0"
        bars.append(
            f'<rect x="{i * step:.1f}" y="{height - h:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>window {window["window"]}: {window["drift_share"]:.0%}</title></rect>'
        )
    y = height - threshold * (height - 2)
    line = f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#555" stroke-dasharray="4 3"/>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        + "".join(bars)
        + line
        + "</svg>"
    )


def _labels(profile: ReferenceProfile, name: str) -> list[str]:
    column = profile.features.get(name) or profile.predictions[name.removeprefix("prediction:")]
    if isinstance(column, NumericProfile):
        edges = [f"{e:.3g}" for e in column.edges]
        return (
            [f"< {edges[0]}", *(f"[{a}, {b})" for a, b in zip(edges, edges[1:])), f">= {edges[-1]}"]
            if edges
            else ["all"]
        )
    return [c for c in column.counts if c != UNSEEN] + [UNSEEN]


def _row(monitor: VariantMonitor, verdict: FeatureVerdict, column_key: str) -> str:
    profile = monitor.profile
    column = profile.features.get(column_key) or profile.predictions[column_key.removeprefix("prediction:")]
    labels = _labels(profile, column_key)
    ref = reference_counts(column)
    cur = np.asarray(monitor.last_counts.get(column_key, np.zeros_like(ref)), dtype=np.float64)
    if len(labels) > _MAX_BARS:  # the most frequent reference cells, then everything else
        keep = np.sort(np.argsort(-ref)[: _MAX_BARS - 1])
        rest = np.setdiff1d(np.arange(len(labels)), keep)
        labels = [labels[i] for i in keep] + [f"{len(rest)} others"]
        ref = np.append(ref[keep], ref[rest].sum())
        cur = np.append(cur[keep], cur[rest].sum())
    p_value = "" if verdict.p_value is None else f"{verdict.p_value:.3g} (adjusted {verdict.adjusted_p_value:.3g})"
    state = '<span class="drift">drift</span>' if verdict.drifted else '<span class="ok">no drift</span>'
    if verdict.reasons:
        state += f" ({', '.join(verdict.reasons)})"
    return (
        f"<tr><td>{escape(column_key)}</td><td>{verdict.test}</td><td>{verdict.score:.4g}</td><td>{p_value}</td>"
        f"<td>{verdict.threshold:g}</td><td>{_rate(verdict.missing_rate, verdict.reference_missing_rate, verdict.missing_p_value)}</td>"
        f"<td>{_rate(verdict.new_rate, None, verdict.new_p_value)}</td>"
        f"<td>{state}</td><td>{bar_chart(labels, ref, cur)}</td></tr>"
    )


def _rate(share: float | None, reference: float | None, p_value: float | None) -> str:
    """A rate beside the reference's, with its test's p-value (blank when not tested)."""
    if share is None:
        return ""
    tested = "" if p_value is None else f", p {p_value:.3g}"
    return f"{share:.2%} (ref {reference:.2%}{tested})" if reference is not None else f"{share:.2%}{tested}"


def _variant(monitor: VariantMonitor) -> str:
    head = (
        f"<h2>{escape(monitor.variant)}</h2><p>{monitor.rows_seen} rows seen, {monitor.windows_done} windows of "
        f"{monitor.drift.window_rows} rows, {monitor.window_rows} rows in the open window.</p>"
    )
    last = monitor.last
    if last is None:
        return head + "<p>No window has closed yet.</p>"
    verdict = "drift" if last.dataset_drifted else "no drift"
    summary = (
        f'<p>Last window: <b class="{"drift" if last.dataset_drifted else "ok"}">{verdict}</b>, '
        f"{last.drift_share:.0%} of features drifted (dataset drift at {monitor.drift.drift_share:.0%}); "
        f"{last.correction} correction at level {last.level:g}; prediction drift: "
        f"{'yes' if last.prediction_drifted else 'no'}.</p>"
    )
    trend = (
        f"<p>Drift share of the last {len(monitor.history)} windows (dashed: driftShare):<br>"
        f"{history_chart(list(monitor.history), monitor.drift.drift_share)}</p>"
    )
    rows = [_row(monitor, v, v.name) for v in last.features]
    rows += [_row(monitor, v, f"prediction:{v.name}") for v in last.predictions]
    table = (
        "<table><tr><th>column</th><th>test</th><th>score</th><th>p-value</th><th>threshold</th>"
        '<th>missing</th><th>new categories</th><th>verdict</th><th>reference <span style="color:#9e9e9e">&#9632;</span> vs last window '
        '<span style="color:#1565c0">&#9632;</span></th></tr>' + "".join(rows) + "</table>"
    )
    return head + summary + trend + table


def render_report(model: str, monitors: list[VariantMonitor]) -> str:
    body = "".join(_variant(m) for m in monitors) or "<p>No variant of this model has a reference profile.</p>"
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>Drift: {escape(model)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>Drift report: {escape(model)}</h1>{body}</body></html>"
    )
