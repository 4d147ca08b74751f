"""Statistical behaviour of the monitor on seeded data.

Stated detection delays (window of 1,000 rows, level 0.01): a 0.5-std mean shift, a 1.5x
variance change, 5% of rows in a new category and a flipped prediction are each detected in
the first window, i.e. within 1,000 rows.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from runtime.drift.detector import choose_tests, reference_counts
from runtime.drift.monitor import VariantMonitor
from runtime.drift.profile import UNSEEN, bin_index, build_profile
from runtime.drift.stattests.chi2 import pool_rare
from runtime.errors import SpecError
from runtime.spec import DriftSpec, FeatureDriftSpec

from .conftest import CATEGORIES, make_rows, predict


def _window(reference, drift: DriftSpec, rows: pd.DataFrame, preds=None, seed: int = 0):
    monitor = VariantMonitor("fraud", "v3", reference, drift, reservoir=2_000, seed=seed)
    reports = monitor.ingest(
        {c: rows[c].to_numpy() for c in rows.columns}, {"fraud": predict(rows) if preds is None else preds}
    )
    assert len(reports) == 1
    return reports[0]


@pytest.mark.parametrize("correction", ["bh", "bonferroni"])
def test_false_alarm_rate_on_no_shift_windows_stays_at_or_below_the_level(correction):
    # With no drift every flag is false: BH (FDR) and Bonferroni (FWER) both bound P(any flag) by the level.
    # Each seed draws its own reference too: the level holds over references, not for every single one.
    drift = DriftSpec(window_rows=1_000, p_value=0.05, correction=correction)
    reports = []
    for s in range(300):
        rows = make_rows(4_000, seed=s)
        profile = build_profile(rows, {"fraud": predict(rows)}, bins=10, seed=s)
        reports.append(_window(profile, drift, make_rows(1_000, seed=10_000 + s), seed=s))
    assert np.mean([any(f.drifted for f in r.features) for r in reports]) <= 0.05
    assert np.mean([r.dataset_drifted for r in reports]) <= 0.05
    assert np.mean([r.prediction_drifted for r in reports]) <= 0.05


def _detected(report, name: str) -> bool:
    return next(f for f in report.features if f.name == name).drifted


def test_mean_shift_is_detected_within_one_window(reference):
    drift = DriftSpec(window_rows=1_000, p_value=0.01)
    assert all(
        _detected(_window(reference, drift, make_rows(1_000, seed=s, shift=0.5), seed=s), "amount") for s in range(20)
    )


def test_variance_change_is_detected_within_one_window(reference):
    drift = DriftSpec(window_rows=1_000, p_value=0.01)
    assert all(
        _detected(_window(reference, drift, make_rows(1_000, seed=s, scale=1.5), seed=s), "amount") for s in range(20)
    )


def test_new_category_is_detected_within_one_window(reference):
    drift = DriftSpec(window_rows=1_000, p_value=0.01)
    for s in range(20):
        rows = make_rows(1_000, seed=s)
        rows.loc[rows.index[:50], "country"] = "mars"
        report = _window(reference, drift, rows, seed=s)
        assert _detected(report, "country")
        assert not _detected(report, "score")


def test_prediction_flip_is_detected_within_one_window(reference):
    drift = DriftSpec(window_rows=1_000, p_value=0.01)
    for s in range(20):
        rows = make_rows(1_000, seed=s)
        report = _window(reference, drift, rows, preds=1 - predict(rows), seed=s)
        assert report.prediction_drifted and not report.dataset_drifted


def test_dataset_drift_follows_the_drift_share(reference):
    rows = make_rows(1_000, seed=5, shift=1.0)
    rows["tenure"] = rows["tenure"] + 3.0
    assert _window(reference, DriftSpec(window_rows=1_000, p_value=0.01, drift_share=0.5), rows).dataset_drifted
    assert not _window(reference, DriftSpec(window_rows=1_000, p_value=0.01, drift_share=0.75), rows).dataset_drifted


def test_streaming_statistics_equal_scipy_on_the_same_rows(reference):
    rows = make_rows(1_000, seed=6, shift=0.2)
    drift = DriftSpec(window_rows=1_000, features={"tenure": {"test": "chi2"}, "score": {"test": "wasserstein"}})
    report = {f.name: f for f in _window(reference, drift, rows).features}
    amount, tenure, score = (reference.features[n] for n in ("amount", "tenure", "score"))
    ks = stats.ks_2samp(amount.sample, rows["amount"])  # reservoir (2,000) holds the whole window
    assert report["amount"].score == ks.statistic and report["amount"].p_value == ks.pvalue
    current = np.bincount(bin_index(tenure.edges, rows["tenure"].to_numpy()), minlength=len(tenure.counts))
    chi2 = stats.chi2_contingency(np.vstack([tenure.counts, current]), correction=False)
    assert report["tenure"].score == pytest.approx(chi2.statistic, rel=1e-12)
    assert report["tenure"].p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    expected = stats.wasserstein_distance(score.sample, rows["score"]) / np.std(score.sample)
    assert report["score"].score == pytest.approx(expected, rel=1e-12) and report["score"].p_value is None


def test_overrides_are_checked_against_the_profile(reference):
    with pytest.raises(SpecError, match="features.country.test: 'ks' needs a numeric column"):
        choose_tests(reference, DriftSpec(features={"country": {"test": "ks"}}))
    with pytest.raises(SpecError, match=r"\['colour'\] are not columns"):
        choose_tests(reference, DriftSpec(features={"colour": {"test": "psi"}}))
    tests = choose_tests(reference, DriftSpec(features={"country": {"test": "psi"}}))
    assert tests["country"].name == "psi" and tests["amount"].name == "ks"
    assert tests["prediction:fraud"].name == "chi2"
    counts = reference_counts(reference.features["country"])
    assert counts.sum() == reference.rows and counts[-1] == 0 and len(counts) == len(CATEGORIES) + 1


def test_a_feature_that_goes_missing_drifts(reference):
    """An absent column (or one all null) used to score p = 1.0 and never drift."""
    rows = make_rows(1_000, seed=21)
    monitor = VariantMonitor("fraud", "v3", reference, DriftSpec(window_rows=1_000, p_value=0.01, drift_share=0.25))
    inputs = {c: rows[c].to_numpy() for c in rows.columns if c != "tenure"}
    inputs["score"] = [None] * 1_000
    (report,) = monitor.ingest(inputs, {"fraud": predict(rows)})
    verdicts = {f.name: f for f in report.features}
    for name in ("tenure", "score"):
        assert verdicts[name].drifted and verdicts[name].reasons == ("missing",), verdicts[name]
        assert verdicts[name].missing_rate == 1.0 and verdicts[name].reference_missing_rate == 0.0
        assert verdicts[name].missing_p_value < 1e-12
    assert not verdicts["amount"].drifted and verdicts["amount"].missing_rate == 0.0
    assert report.dataset_drifted


def test_a_few_missing_values_where_the_reference_had_as_many_do_not_drift():
    rows = make_rows(20_000, seed=22)
    rows.loc[rows.sample(frac=0.05, random_state=1).index, "amount"] = np.nan
    profile = build_profile(rows, sample_size=5_000)
    live = make_rows(1_000, seed=23)
    live.loc[live.sample(frac=0.05, random_state=2).index, "amount"] = np.nan
    report = VariantMonitor("fraud", "v3", profile, DriftSpec(window_rows=1_000)).ingest(
        {c: live[c].tolist() for c in live.columns}
    )[0]
    amount = next(f for f in report.features if f.name == "amount")
    assert not amount.drifted and amount.missing_rate == pytest.approx(0.05)
    assert amount.reference_missing_rate == pytest.approx(0.05)


def test_one_unseen_category_is_reported_not_drift():
    """One new country in a 5,000-row window against a 100k-row reference: the chi-square cell of
    unseen categories expects ~0.05 rows and gave p ~ 2e-4 (drift) before it was tested apart."""
    large = make_rows(100_000, seed=2)
    reference = build_profile(large, {"fraud": predict(large)}, sample_size=5_000)
    rows = make_rows(5_000, seed=24)
    rows.loc[rows.index[0], "country"] = "mars"
    report = _window(reference, DriftSpec(window_rows=5_000, p_value=0.01), rows)
    country = next(f for f in report.features if f.name == "country")
    assert not country.drifted, country
    assert country.new_rate == pytest.approx(1 / 5_000) and country.new_p_value > 0.01, "one row is no evidence"
    assert country.p_value > 0.01, "the test of the known categories leaves the new one out"


def test_many_rows_in_new_categories_drift_for_that_reason(reference):
    rows = make_rows(1_000, seed=25)
    rows.loc[rows.index[:50], "country"] = "mars"
    country = next(f for f in _window(reference, DriftSpec(window_rows=1_000), rows).features if f.name == "country")
    assert country.drifted and "new categories" in country.reasons
    assert country.new_rate == pytest.approx(0.05) and country.new_p_value < 1e-10


def test_a_tests_options_from_the_spec_reach_it(reference):
    # chi2 pools the categories whose expected count is below minExpected; 0 tests the raw table.
    rows = make_rows(200, seed=8)
    country = reference.features["country"]
    cells = [c for c in country.counts if c != UNSEEN]
    table = np.vstack(
        [reference_counts(country)[: len(cells)], rows["country"].value_counts().reindex(cells, fill_value=0)]
    )

    def score(min_expected: float) -> float:
        country = FeatureDriftSpec.model_validate({"test": "chi2", "options": {"minExpected": min_expected}})
        report = _window(reference, DriftSpec(window_rows=200, features={"country": country}), rows)
        return next(f.score for f in report.features if f.name == "country")

    assert score(0) == pytest.approx(stats.chi2_contingency(table, correction=False).statistic, rel=1e-9)
    pooled = pool_rare(table[0], table[1], 30.0)
    assert len(pooled[0]) < len(cells)  # the 30-row floor merges the rare countries
    assert score(30) == pytest.approx(stats.chi2_contingency(np.vstack(pooled), correction=False).statistic)
