"""The drift state of one model variant: its profile, the open window, totals and recent verdicts.

Rows arrive as columns (input name -> values). When the open window reaches ``windowRows`` it
is compared with the reference, the verdict is kept, and a new window opens. A batch that
crosses the boundary is split, so every window holds exactly ``windowRows`` rows. A matrix (V1
row lists, a V2 ``[n, k]`` tensor: one column whose rows hold ``k`` values) is split into the
profile's columns, in the profile's order, which is the model signature's (both are built from
the same training frame, ``runtime.registry.register``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from runtime.drift.detector import WindowReport, choose_tests, evaluate
from runtime.drift.images import expand_images
from runtime.drift.profile import ReferenceProfile
from runtime.drift.window import DEFAULT_RESERVOIR, ColumnWindow, RowSampler, new_window, window_from_dict
from runtime.errors import InvalidInput
from runtime.spec import DriftSpec

__all__ = ["VariantMonitor", "HISTORY", "split_matrix"]

HISTORY = 48
"""Verdicts of the most recent windows kept for the report."""


def split_matrix(columns: Mapping[str, Any], names: list[str]) -> Mapping[str, Any]:
    """``columns`` with one matrix column (each row a list of ``len(names)`` values, under a
    name that is none of ``names``) replaced by one column per name; unchanged otherwise."""
    if len(names) < 2 or all(n in columns for n in names):
        return columns
    for key, values in columns.items():
        if key in names or not values or not all(isinstance(r, (list, tuple)) and len(r) == len(names) for r in values):
            continue
        split = {k: v for k, v in columns.items() if k != key}
        split.update((name, list(column)) for name, column in zip(names, zip(*values)))
        return split
    return columns


class VariantMonitor:
    def __init__(
        self,
        model: str,
        variant: str,
        profile: ReferenceProfile,
        drift: DriftSpec,
        reservoir: int = DEFAULT_RESERVOIR,
        seed: int = 0,
        on_window: Callable[[VariantMonitor, WindowReport, bool], None] | None = None,
    ) -> None:
        self.model, self.variant, self.profile, self.drift = model, variant, profile, drift
        self.tests = choose_tests(profile, drift, source=f"models.{model}.drift")
        self.reservoir, self.seed = reservoir, seed
        self.on_window = on_window
        self.rows_seen = 0
        self.windows_done = 0
        self.last: WindowReport | None = None
        self.last_counts: dict[str, list[int]] = {}
        """Counts per bin/category of the last closed window, per column, for the report."""
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._open()

    def _open(self) -> None:
        seed = self.seed + self.windows_done
        self.window_rows = 0
        self.feature_rows = RowSampler(self.reservoir, seed)
        self.prediction_rows = RowSampler(self.reservoir, seed + 1_000_003)
        self.features: dict[str, ColumnWindow] = {
            n: new_window(c, self.reservoir) for n, c in self.profile.features.items()
        }
        self.predictions: dict[str, ColumnWindow] = {
            n: new_window(c, self.reservoir) for n, c in self.profile.predictions.items()
        }

    def _match_outputs(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        outputs = split_matrix(outputs, list(self.predictions))
        known = {n: v for n, v in outputs.items() if n in self.predictions}
        if not known and len(outputs) == 1 and len(self.predictions) == 1:
            # one output and one profiled prediction: the model server may name it differently
            return {next(iter(self.predictions)): next(iter(outputs.values()))}
        return known

    def ingest(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any] | None = None) -> list[WindowReport]:
        """Add rows (columnar); returns the reports of the windows this batch completed."""
        inputs = expand_images(inputs, self.profile.metadata)
        inputs = split_matrix(inputs, list(self.features))
        lengths = {n: len(v) for n, v in inputs.items()}
        if len(set(lengths.values())) > 1:
            raise InvalidInput(f"inputs: every input must hold one value per row, got lengths {lengths}")
        rows = next(iter(lengths.values()), 0)
        outputs = self._match_outputs(outputs or {})
        for name, values in outputs.items():
            if len(values) != rows and rows:
                raise InvalidInput(f"outputs.{name}: {len(values)} values for {rows} input rows")
        reports: list[WindowReport] = []
        start = 0
        if not rows:
            outputs_rows = next((len(v) for v in outputs.values()), 0)
            slots, picked = self.prediction_rows.take(outputs_rows)
            for name, values in outputs.items():  # outputs alone (e.g. a KServe response event)
                self.predictions[name].add(values, slots, picked)
            return reports
        while start < rows:
            take = min(rows - start, self.drift.window_rows - self.window_rows)
            part = slice(start, start + take)
            slots, picked = self.feature_rows.take(take)
            for name, window in self.features.items():
                values = inputs.get(name)
                if values is None:
                    window.missing += take
                else:
                    window.add(values[part] if take < rows else values, slots, picked)
            if outputs:
                slots, picked = self.prediction_rows.take(take)
            for name, values in outputs.items():
                self.predictions[name].add(values[part] if take < rows else values, slots, picked)
            self.window_rows += take
            self.rows_seen += take
            start += take
            if self.window_rows >= self.drift.window_rows:
                reports.append(self.close_window())
        return reports

    def close_window(self) -> WindowReport:
        report = evaluate(self.profile, self.drift, self.tests, self.features, self.predictions, self.window_rows)
        was_drifted = bool(self.last and self.last.dataset_drifted)
        self.last = report
        self.last_counts = {n: w.counts.tolist() for n, w in self.features.items()}
        self.last_counts.update({f"prediction:{n}": w.counts.tolist() for n, w in self.predictions.items()})
        self.windows_done += 1
        self.history.append(
            {
                "window": self.windows_done,
                "rows": report.rows,
                "drift_share": report.drift_share,
                "dataset_drifted": report.dataset_drifted,
                "prediction_drifted": report.prediction_drifted,
            }
        )
        if self.on_window is not None:
            self.on_window(self, report, report.dataset_drifted and not was_drifted)
        self._open()
        return report

    # --- persistence -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "variant": self.variant,
            "rows_seen": self.rows_seen,
            "windows_done": self.windows_done,
            "window_rows": self.window_rows,
            "last": self.last.to_dict() if self.last else None,
            "history": list(self.history),
            "last_counts": self.last_counts,
            "feature_rows": self.feature_rows.to_dict(),
            "prediction_rows": self.prediction_rows.to_dict(),
            "features": {n: w.to_dict() for n, w in self.features.items()},
            "predictions": {n: w.to_dict() for n, w in self.predictions.items()},
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Continue from a persisted state (raises ``ValueError``/``KeyError`` when it does not fit the profile)."""
        features = {
            n: window_from_dict(self.profile.features[n], d, self.reservoir) for n, d in data["features"].items()
        }
        predictions = {
            n: window_from_dict(self.profile.predictions[n], d, self.reservoir) for n, d in data["predictions"].items()
        }
        if set(features) != set(self.features) or set(predictions) != set(self.predictions):
            raise ValueError("persisted columns differ from the reference profile's")
        # Read everything before changing anything: a state that fails half-way leaves this monitor as it was.
        feature_rows, prediction_rows = RowSampler(self.reservoir, 0), RowSampler(self.reservoir, 0)
        feature_rows.load(data["feature_rows"])
        prediction_rows.load(data["prediction_rows"])
        rows_seen, windows_done = int(data["rows_seen"]), int(data["windows_done"])
        window_rows = int(data["window_rows"])
        last = WindowReport.from_dict(data["last"]) if data.get("last") else None
        history = deque(data.get("history", []), maxlen=HISTORY)
        last_counts = {str(k): [int(c) for c in v] for k, v in data.get("last_counts", {}).items()}
        self.features, self.predictions = features, predictions
        self.feature_rows, self.prediction_rows = feature_rows, prediction_rows
        self.rows_seen, self.windows_done, self.window_rows = rows_seen, windows_done, window_rows
        self.last, self.history, self.last_counts = last, history, last_counts
