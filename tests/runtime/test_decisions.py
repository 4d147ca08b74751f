"""The decision statistics: checked against statsmodels on the same counts, and by seeded
simulation (thousands of experiments per test, vectorized) for what only simulation shows."""

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from runtime.decisions import (
    mean_interval,
    mixture_scale,
    proportion_interval,
    relative_lift,
    sample_ratio_check,
    sequential_sample_size,
    sequential_test,
    two_proportion_test,
)

COUNTS = [(0, 40), (3, 40), (120, 1000), (5_210, 50_000), (999, 1000), (1000, 1000)]


@pytest.mark.parametrize("successes,trials", COUNTS)
def test_wilson_interval_matches_statsmodels(successes, trials):
    ours = proportion_interval(successes, trials, alpha=0.05)
    low, high = proportion_confint(successes, trials, alpha=0.05, method="wilson")
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=1e-12)
    assert ours.estimate == pytest.approx(successes / trials)


def test_interval_of_an_empty_arm_is_unknown_not_zero():
    ours = proportion_interval(0, 0)
    assert np.isnan(ours.estimate) and np.isnan(ours.low) and np.isnan(ours.high)


@pytest.mark.parametrize("a,b", [((120, 1000), (150, 1000)), ((5_000, 50_000), (5_300, 49_000)), ((7, 90), (2, 110))])
def test_two_proportion_test_matches_statsmodels(a, b):
    ours = two_proportion_test(a[0], a[1], b[0], b[1])
    z, p = proportions_ztest([b[0], a[0]], [b[1], a[1]])
    assert ours.z == pytest.approx(z, rel=1e-12)
    assert ours.p_value == pytest.approx(p, rel=1e-9)
    assert ours.difference == pytest.approx(b[0] / b[1] - a[0] / a[1])


def test_mean_interval_matches_numpy_and_scipy():
    rng = np.random.default_rng(4)
    values = rng.exponential(3.0, 5000) * (rng.random(5000) < 0.2)
    ours = mean_interval(values.sum(), (values**2).sum(), len(values))
    half = 1.959963984540054 * values.std(ddof=1) / np.sqrt(len(values))
    assert (ours.estimate, ours.low, ours.high) == pytest.approx(
        (values.mean(), values.mean() - half, values.mean() + half)
    )


def test_relative_lift_interval_covers_the_truth_at_its_level():
    rng = np.random.default_rng(5)
    runs, n = 4000, 20_000
    xa, xb = rng.binomial(n, 0.10, runs), rng.binomial(n, 0.11, runs)
    lift = relative_lift(xa, n, xb, n)
    covered = ((lift.low <= 0.1) & (0.1 <= lift.high)).mean()
    assert 0.94 <= covered <= 0.96
    assert np.median(lift.estimate) == pytest.approx(0.1, abs=0.005)
    assert np.isnan(relative_lift(0, 100, 3, 100).estimate)


def _sequential_runs(rng, runs, looks, batch, rate_a, rate_b, tau, alpha=0.05):
    """Cumulative counts of ``runs`` experiments, the test applied after every batch of users."""
    xa = np.cumsum(rng.binomial(batch, rate_a, (runs, looks)), axis=1)
    xb = np.cumsum(rng.binomial(batch, rate_b, (runs, looks)), axis=1)
    p = np.ones(runs)
    first = np.full(runs, -1)
    for look in range(looks):
        n = batch * (look + 1)
        result = sequential_test(xa[:, look], n, xb[:, look], n, tau=tau, alpha=alpha, previous_p=p)
        first[(first < 0) & result.rejected] = look
        p = result.p_value
    return result, first


@pytest.mark.parametrize("batch,rate", [(20, 0.05), (200, 0.10), (1000, 0.30)])
def test_aa_checked_after_every_batch_declares_a_winner_in_at_most_alpha_of_runs(batch, rate):
    rng = np.random.default_rng(batch)
    alpha, runs = 0.05, 2000
    result, _ = _sequential_runs(rng, runs, 150, batch, rate, rate, mixture_scale(rate, 0.05), alpha)
    assert result.rejected.mean() <= alpha
    assert result.p_value.min() > 0  # the p-value is a probability, never a degenerate 0


def test_naive_fixed_horizon_test_peeked_at_after_every_batch_does_inflate():
    rng = np.random.default_rng(11)
    runs, looks, batch = 2000, 150, 200
    xa = np.cumsum(rng.binomial(batch, 0.1, (runs, looks)), axis=1)
    xb = np.cumsum(rng.binomial(batch, 0.1, (runs, looks)), axis=1)
    n = batch * np.arange(1, looks + 1)
    ever = (two_proportion_test(xa, n, xb, n).p_value < 0.05).any(axis=1).mean()
    assert ever > 0.2  # why the readout does not use it for decisions


def test_true_five_percent_lift_is_found_in_80_percent_of_runs_at_the_stated_size():
    rate, lift, alpha = 0.10, 0.05, 0.05
    needed = sequential_sample_size(rate, lift, alpha=alpha, power=0.8)
    looks = 100
    rng = np.random.default_rng(21)
    result, first = _sequential_runs(
        rng, 1000, looks, -(-needed // looks), rate, rate * (1 + lift), mixture_scale(rate, lift), alpha
    )
    assert result.rejected.mean() >= 0.80
    assert (result.difference[result.rejected] > 0).all()  # never the wrong winner
    # The stated size is needed, not padded tenfold: at a fifth of it most runs are still undecided.
    assert (first[result.rejected] < looks // 5).mean() < 0.5


def test_sample_size_is_larger_than_fixed_horizon_and_shrinks_with_the_effect():
    fixed = 2 * (1.959963984540054 + 0.8416212335729143) ** 2 * (0.1 * 0.9 + 0.105 * 0.895) / 2 / 0.005**2
    needed = sequential_sample_size(0.10, 0.05)
    assert fixed < needed < 3 * fixed
    assert sequential_sample_size(0.10, 0.20) < needed / 10


def test_confidence_sequence_excludes_zero_exactly_when_rejected():
    rng = np.random.default_rng(8)
    n = rng.integers(100, 100_000, 5000)
    xa, xb = rng.binomial(n, 0.1), rng.binomial(n, 0.103)
    result = sequential_test(xa, n, xb, n, tau=0.005)
    excluded = (result.low > 0) | (result.high < 0)
    assert (excluded == result.rejected).mean() > 0.999  # equal up to float rounding at the boundary
    assert excluded.any() and not excluded.all()


def test_srm_flags_52_48_over_100k_and_not_a_correct_split():
    flagged = sample_ratio_check([52_000, 48_000], [50, 50])
    assert flagged.mismatch and flagged.p_value < 1e-30
    assert flagged.expected == (50_000.0, 50_000.0)
    rng = np.random.default_rng(9)
    alpha, runs = 0.01, 2000
    false_alarms = sum(
        sample_ratio_check(rng.multinomial(100_000, [0.5, 0.5]), [50, 50], alpha).mismatch for _ in range(runs)
    )
    assert false_alarms / runs <= alpha * 1.6  # binomial slack: 2000 runs at 1% has sd 0.22%
    uneven = rng.multinomial(100_000, [0.2, 0.8])
    assert not sample_ratio_check(uneven, [20, 80]).mismatch
    assert sample_ratio_check(uneven, [50, 50]).mismatch


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: proportion_interval(1, 10, alpha=1.5), "alpha must be in"),
        (lambda: sequential_test(1, 10, 2, 10, tau=0), "tau must be positive"),
        (lambda: mixture_scale(1.2, 0.05), "baseline must be a rate"),
        (lambda: sequential_sample_size(0.99, 0.05), "must stay below 1"),
        (lambda: sample_ratio_check([1, 2, 3], [50, 50]), "equal-length"),
        (lambda: sample_ratio_check([1, 2], [0, 100]), "weights must be positive"),
    ],
)
def test_bad_arguments_name_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
