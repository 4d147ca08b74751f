"""One window against the reference: pick a test per column, run it, correct, decide.

Defaults: a numeric column gets the KS test on the reference sample against the window's
reservoir (at most ``DEFAULT_RESERVOIR`` rows, so its sensitivity stops growing with the window);
a categorical column gets the chi-square test on category counts, with rare categories pooled.
The spec may override the test per column. Beside it, every column's missing rate is tested
against the reference's, and a categorical column's share of rows in categories the reference
never saw is tested on its own (both Fisher's exact test), so a column that goes absent drifts
and one new value does not. All p-values of the input features are corrected as one family
(``correction``), the outputs as another; a column drifted when any of its tests did; the dataset
drifted when the share of drifted input features reaches ``driftShare``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from runtime.drift.correction import adjust
from runtime.drift.profile import UNSEEN, CategoricalProfile, ColumnProfile, NumericProfile, ReferenceProfile
from runtime.drift.stattests import (
    DEFAULT_TESTS,
    STATTESTS,
    ColumnKind,
    StatTest,
    TestResult,
    expected_tests,
    for_column,
)
from runtime.drift.stattests.rate import rate
from runtime.drift.window import CategoricalWindow, ColumnWindow, NumericWindow
from runtime.errors import SpecError
from runtime.spec import DriftSpec, FeatureDriftSpec

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
    """Any of the column's tests drifted, after the correction."""
    rows: int
    missing_rate: float | None = None
    """Share of the window's values that were missing (absent or null)."""
    reference_missing_rate: float | None = None
    missing_p_value: float | None = None
    """Fisher's exact test of the missing rate against the reference's, before the correction."""
    new_rate: float | None = None
    """Categorical columns: share of present values in categories the reference never saw."""
    new_p_value: float | None = None
    """One-sided Fisher's exact test of that share against the reference's ``UNSEEN`` share."""
    reasons: tuple[str, ...] = ()
    """Which tests drifted: ``distribution``, ``missing``, ``new categories``."""


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
            features=tuple(_verdict(f) for f in data["features"]),
            predictions=tuple(_verdict(f) for f in data["predictions"]),
        )


def _verdict(data: dict[str, Any]) -> FeatureVerdict:
    return FeatureVerdict(**{**data, "reasons": tuple(data.get("reasons", ()))})


def choose_tests(profile: ReferenceProfile, drift: DriftSpec, source: str = "drift") -> dict[str, StatTest]:
    """The test of each input and output column; an override that cannot apply is a ``SpecError``."""
    chosen: dict[str, StatTest] = {}
    columns = {**profile.features, **{f"prediction:{n}": c for n, c in profile.predictions.items()}}
    for name, column in columns.items():
        override = drift.features.get(name)
        kind = _kind(column)
        test = STATTESTS[override.test if override else DEFAULT_TESTS[kind]]
        if kind not in test.columns:
            needs = " or ".join(sorted(test.columns))
            raise SpecError(
                [
                    f"{source}.features.{name}.test: '{test.name}' needs a {needs} column, but '{name}' is "
                    f"{kind} in the reference profile; expected {expected_tests(for_column(kind))}"
                ]
            )
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


def _kind(column: ColumnProfile) -> ColumnKind:
    return "numeric" if isinstance(column, NumericProfile) else "categorical"


def _run(
    test: StatTest, column: ColumnProfile, window: ColumnWindow, threshold: float, override: FeatureDriftSpec | None
) -> TestResult:
    options = test.arguments(_kind(column), override.options if override is not None else {})
    if test.reads == "sample":
        if not isinstance(column, NumericProfile) or not isinstance(window, NumericWindow):
            raise SpecError([f"'{test.name}' reads samples, which only a numeric column has"])
        return test.function(column.sample, window.sample, threshold, **options)
    ref, cur = reference_counts(column), window.counts.astype(np.float64)
    if isinstance(window, CategoricalWindow) and ref[-1] == 0:
        ref, cur = ref[:-1], cur[:-1]  # new categories are tested on their own (``_side_tests``)
    return test.function(ref, cur, threshold, **options)


def _threshold(test: StatTest, override: FeatureDriftSpec | None, p_value: float) -> float:
    """The spec's significance level for a hypothesis test; for a distance, the override or the default."""
    if test.kind == "p_value":
        return p_value
    if override is not None and override.threshold is not None:
        return override.threshold
    if test.default_threshold is None:
        raise SpecError([f"'{test.name}' is a distance without a default threshold: set features.<name>.threshold"])
    return test.default_threshold


def _side_tests(column: ColumnProfile, window: ColumnWindow, level: float) -> dict[str, TestResult]:
    """The missing rate (every column) and the share of new categories (categorical columns)."""
    tests = {
        "missing": rate(
            column.missing, column.rows + column.missing, window.missing, window.rows + window.missing, level
        )
    }
    if isinstance(window, CategoricalWindow) and isinstance(column, CategoricalProfile):
        unseen = int(column.counts.get(UNSEEN, 0))
        tests["new categories"] = rate(unseen, column.rows, int(window.counts[-1]), window.rows, level, "greater")
    return tests


def _family(
    names: list[str],
    columns: dict[str, ColumnProfile],
    windows: dict[str, ColumnWindow],
    tests: dict[str, StatTest],
    drift: DriftSpec,
    key: str = "{}",
) -> tuple[FeatureVerdict, ...]:
    results = []
    for name in names:
        test = tests[key.format(name)]
        override = drift.features.get(key.format(name))
        threshold = _threshold(test, override, drift.p_value)
        checks = {
            "distribution": _run(test, columns[name], windows[name], threshold, override),
            **_side_tests(columns[name], windows[name], drift.p_value),
        }
        results.append((name, checks, windows[name]))
    # One family: every p-value of every column (distribution, missing rate, new categories).
    keyed = [
        (i, kind) for i, (_, checks, _) in enumerate(results) for kind, r in checks.items() if r.p_value is not None
    ]
    values = np.array([results[i][1][kind].p_value for i, kind in keyed])
    adjusted = dict(zip(keyed, (float(a) for a in adjust(values, drift.correction))))
    verdicts = []
    for i, (name, checks, window) in enumerate(results):
        reasons = tuple(
            kind
            for kind, r in checks.items()
            if ((i, kind) in adjusted and adjusted[(i, kind)] <= drift.p_value)
            or ((i, kind) not in adjusted and r.drifted)
        )
        main, column = checks["distribution"], columns[name]
        new = checks.get("new categories")
        verdicts.append(
            FeatureVerdict(
                name,
                main.test,
                main.score,
                main.p_value,
                adjusted.get((i, "distribution")),
                main.threshold,
                bool(reasons),
                window.rows,
                missing_rate=checks["missing"].score,
                reference_missing_rate=column.missing / (column.rows + column.missing)
                if column.rows + column.missing
                else 0.0,
                missing_p_value=checks["missing"].p_value,
                new_rate=new.score if new else None,
                new_p_value=new.p_value if new else None,
                reasons=reasons,
            )
        )
    return tuple(verdicts)


def evaluate(
    profile: ReferenceProfile,
    drift: DriftSpec,
    tests: dict[str, StatTest],
    features: dict[str, ColumnWindow],
    predictions: dict[str, ColumnWindow],
    rows: int,
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
