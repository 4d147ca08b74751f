import numpy as np
import pytest

from bench.paired import paired_summary


def test_the_median_of_skewed_differences_is_reported_not_their_mean():
    differences = [-1.0] * 70 + [10.0] * 30  # mean +2.3 ms, median -1 ms
    np.random.default_rng(1).shuffle(differences)  # spread out, as pairs taken in turns are
    summary = paired_summary(differences)
    assert summary["median_ms"] == -1.0
    assert summary["ci95_ms"] == [-1.0, -1.0]
    assert summary["faster_share"] == 0.7
    assert summary["pairs"] == 100


def test_the_interval_holds_the_true_median_and_narrows_with_more_pairs():
    rng = np.random.default_rng(3)
    few = paired_summary(rng.normal(-0.5, 1.0, 100))
    many = paired_summary(rng.normal(-0.5, 1.0, 4000))
    low, high = many["ci95_ms"]
    assert low < -0.5 < high < 0  # the true median is in it, zero is not
    assert high - low < (few["ci95_ms"][1] - few["ci95_ms"][0]) / 3
    assert low <= many["median_ms"] <= high


def test_the_same_pairs_give_the_same_interval():
    differences = np.random.default_rng(5).normal(0.1, 0.4, 300)
    assert paired_summary(differences) == paired_summary(list(differences))


def test_no_pairs_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="at least one pair"):
        paired_summary([])


def _width(summary: dict) -> float:
    return summary["ci95_ms"][1] - summary["ci95_ms"][0]


def test_pairs_that_drift_together_widen_the_interval_as_they_should():
    # Runs of 64 pairs share a level (the machine's state of the moment), plus small noise.
    rng = np.random.default_rng(8)
    levels = np.repeat(rng.normal(0.2, 0.5, 20), 64)
    differences = levels + rng.normal(0.0, 0.05, levels.size)
    one_by_one = paired_summary(differences, block=1)
    in_runs = paired_summary(differences)
    assert in_runs["block"] == 16 and one_by_one["block"] == 1
    assert _width(in_runs) > 2 * _width(one_by_one), (in_runs, one_by_one)
