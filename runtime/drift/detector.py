"""One window against the reference: pick a test per column, run it, correct, decide.

Defaults: a numeric column gets the KS test on the reference sample against the window's
reservoir (at most ``DEFAULT_RESERVOIR`` rows, so its sensitivity stops growing with the window);
a categorical column gets the chi-square test on category counts, with rare categories pooled.
The spec may override the test per column. P-values of the input features are corrected as one
family (``correction``), the outputs as another; the dataset drifted when the share of drifted
input features reaches ``driftShare``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from runtime.drift.correction import adjust
from runtime.drift.profile import UNSEEN, CategoricalProfile, ColumnProfile, NumericProfile, ReferenceProfile
from runtime.drift.stattests import STATTESTS, StatTest, pool_rare
from runtime.drift.window import CategoricalWindow, ColumnWindow
from runtime.errors import SpecError
from runtime.spec import Drift

__all__ = ["FeatureVerdict", "WindowReport", "choose_tests", "evaluate", "reference_counts"]


@dataclass(frozen=True)
class FeatureVerdict:
    name: str
    test: str
    score: float
    p_value: float | None
    adjusted_p_value: float | None
    threshold: float
    drifted: bool
    rows: int


@dataclass(frozen=True)
class WindowReport:
    rows: int
    features: tuple[FeatureVerdict, ...]
    predictions: tuple[FeatureVerdict, ...]
    drift_share: float
    dataset_drifted: bool
    prediction_drifted: bool
    correction: str
    level: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowReport:
        return cls(
            **{k: v for k, v in data.items() if k not in ("features", "predictions")},
            features=tuple(FeatureVerdict(**f) for f in data["features"]),
            predictions=tuple(FeatureVerdict(**f) for f in data["predictions"]),
        )


def choose_tests(profile: ReferenceProfile, drift: Drift, source: str = "drift") -> dict[str, StatTest]:
    """The test of each input and output column; an override that cannot apply is a ``SpecError``."""
    chosen: dict[str, StatTest] = {}
    columns = {**profile.features, **{f"prediction:{n}": c for n, c in profile.predictions.items()}}
    for name, column in columns.items():
        override = drift.features.get(name)
        default = "ks" if isinstance(column, NumericProfile) else "chi2"
        test = STATTESTS[override.test if override else default]
        if isinstance(column, CategoricalProfile) and test.reads == "sample":
            raise SpecError([
                f"{source}.features.{name}.test: '{test.name}' needs a numeric column, but '{name}' is "
                "categorical in the reference profile; expected 'chi2' or 'psi'"
            ])
        chosen[name] = test
    unknown = sorted(set(drift.features) - set(columns))
    if unknown:
        raise SpecError([f"{source}.features: {unknown} are not columns of the reference profile ({sorted(columns)})"])
    return chosen


def reference_counts(column: ColumnProfile) -> np.ndarray:
    """Reference counts aligned with a window's cells (categorical: categories, then ``UNSEEN``)."""
    if isinstance(column, NumericProfile):
        return np.asarray(column.counts, dtype=np.float64)
    cells = [n for c, n in column.counts.items() if c != UNSEEN]
    return np.asarray([*cells, column.counts.get(UNSEEN, 0)], dtype=np.float64)


def _run(test: StatTest, column: ColumnProfile, window: ColumnWindow, threshold: float):
    if test.reads == "sample":
        return test.function(column.sample, window.sample, threshold)
    ref, cur = reference_counts(column), window.counts.astype(np.float64)
    if test.name == "chi2" and isinstance(window, CategoricalWindow):
        ref, cur = pool_rare(ref, cur)
    return test.function(ref, cur, threshold)


def _family(
    names: list[str], columns: dict[str, ColumnProfile], windows: dict[str, ColumnWindow],
    tests: dict[str, StatTest], drift: Drift, key: str = "{}",
) -> tuple[FeatureVerdict, ...]:
    results = []
    for name in names:
        test = tests[key.format(name)]
        override = drift.features.get(key.format(name))
        threshold = drift.p_value if test.kind == "p_value" else (override and override.threshold) or test.default_threshold
        results.append((name, _run(test, columns[name], windows[name], threshold), windows[name].rows))
    with_p = [i for i, (_, r, _) in enumerate(results) if r.p_value is not None]
    adjusted = dict(zip(with_p, adjust(np.array([results[i][1].p_value for i in with_p]), drift.correction)))
    verdicts = []
    for i, (name, result, rows) in enumerate(results):
        adj = float(adjusted[i]) if i in adjusted else None
        drifted = adj <= drift.p_value if adj is not None else result.drifted
        verdicts.append(FeatureVerdict(name, result.test, result.score, result.p_value, adj, result.threshold,
                                       bool(drifted), rows))
    return tuple(verdicts)


def evaluate(
    profile: ReferenceProfile, drift: Drift, tests: dict[str, StatTest],
    features: dict[str, ColumnWindow], predictions: dict[str, ColumnWindow], rows: int,
) -> WindowReport:
    """Compare the windows of one model variant with its reference profile."""
    feature_verdicts = _family(list(profile.features), profile.features, features, tests, drift)
    prediction_verdicts: tuple[FeatureVerdict, ...] = ()
    if drift.prediction_drift:
        names = [n for n in profile.predictions if predictions.get(n) is not None and predictions[n].rows]
        prediction_verdicts = _family(names, profile.predictions, predictions, tests, drift, "prediction:{}")
    drifted = sum(v.drifted for v in feature_verdicts)
    share = drifted / len(feature_verdicts) if feature_verdicts else 0.0
    return WindowReport(
        rows=rows,
        features=feature_verdicts,
        predictions=prediction_verdicts,
        drift_share=share,
        dataset_drifted=bool(feature_verdicts) and share >= drift.drift_share,
        prediction_drifted=any(v.drifted for v in prediction_verdicts),
        correction=drift.correction,
        level=drift.p_value,
    )
