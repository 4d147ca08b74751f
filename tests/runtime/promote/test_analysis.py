"""Promotion decisions on seeded rollouts, each interval evaluated, counts fed to the decision."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.decisions import two_proportion_test
from runtime.promote.analysis import ROLLBACK, StepCounts, decide, judge, next_weight
from runtime.spec import ProgressiveSpec
from tests.runtime.promote.simulate import expected_intervals, simulate

PROGRESSIVE = ProgressiveSpec(steps=[5, 10, 25, 50, 100], min_samples_per_step=2000, interval_s=300)
CALLS = 3000  # 10 requests per second over a 300 s interval
HEALTHY = dict(calls_per_interval=CALLS, primary_error=0.01, canary_error=0.01)


def test_healthy_canary_reaches_primary_in_the_expected_number_of_intervals():
    want = expected_intervals(PROGRESSIVE, CALLS, 5)
    assert want == 14 + 7 + 3 + 2
    exact = simulate(PROGRESSIVE, runs=1, intervals=60, expected=True, **HEALTHY)
    assert exact.finished_at.tolist() == [want]
    assert exact.rolled_back_at.tolist() == [0]
    noisy = simulate(PROGRESSIVE, runs=1000, intervals=60, seed=7, **HEALTHY)
    assert (noisy.finished_at > 0).mean() >= 0.95
    on_time = noisy.finished_at[noisy.finished_at > 0]
    assert (on_time >= want - 4).all()
    assert np.median(on_time) <= want + 2


def test_five_points_more_errors_is_rolled_back_once_it_has_the_minimum_samples():
    for start in (5, 50):
        runs = simulate(PROGRESSIVE, runs=1000, intervals=30, seed=11, start=start, **{**HEALTHY, "canary_error": 0.06})
        assert (runs.rolled_back_at > 0).all(), f"start {start}: some canaries were not rolled back"
        enough = int(np.ceil(PROGRESSIVE.min_samples_per_step / (CALLS * start / 100)))
        assert runs.rolled_back_at.max() <= enough, f"start {start}: a rollback came after the minimum samples"
        assert (runs.finished_at == 0).all()


@pytest.mark.parametrize("action, weight", [("rollback", 0), ("hold", 5)])
def test_thirty_percent_slower_p99_gets_its_guardrail_action(action, weight):
    progressive = PROGRESSIVE.model_copy(update={"p99_action": action})
    before = decide("fraud", progressive, 5, StepCounts(19000, 190, 1000, 10, 0, 0.05, 0.065))
    assert before.action == "hold" and before.next_weight == 5
    at = decide("fraud", progressive, 5, StepCounts(38000, 380, 2000, 20, 0, 0.05, 0.065))
    assert at.action == action and at.next_weight == weight
    assert at.evidence["p99Ratio"] == pytest.approx(1.3)
    assert any("1.30x" in reason for reason in at.reasons)


def test_identical_canary_evaluated_every_interval_is_rolled_back_in_at_most_alpha_of_runs():
    runs = simulate(PROGRESSIVE, runs=4000, intervals=40, seed=2026, **HEALTHY)
    false_rollbacks = (runs.rolled_back_at > 0).mean()
    assert false_rollbacks <= PROGRESSIVE.alpha
    assert (runs.finished_at > 0).mean() > 0.9


def test_a_fixed_horizon_test_looked_at_every_interval_would_exceed_alpha():
    # Why the sequential test: the same A/A counts, judged by the z test at every look.
    rng = np.random.default_rng(2026)
    runs, looks, n = 4000, 40, 150
    canary_calls = np.arange(1, looks + 1)[:, None] * n
    canary_errors = np.cumsum(rng.binomial(n, 0.01, (looks, runs)), axis=0)
    primary_errors = np.cumsum(rng.binomial(CALLS - n, 0.01, (looks, runs)), axis=0)
    primary_calls = np.arange(1, looks + 1)[:, None] * (CALLS - n)
    z = two_proportion_test(primary_errors, primary_calls, canary_errors, canary_calls)
    ever = ((z.p_value < 0.05) & (z.difference > 0)).any(axis=0).mean()
    assert ever > PROGRESSIVE.alpha


def test_next_weight_walks_the_steps_and_a_rolled_back_canary_stays_put():
    assert [next_weight(PROGRESSIVE, w) for w in (5, 7, 10, 50)] == [10, 10, 25, 100]
    idle = decide("fraud", PROGRESSIVE, 0, StepCounts(1, 0, 0, 0))
    assert idle.action == "hold" and idle.next_weight == 0


def test_the_canarys_own_fallback_rate_above_its_ceiling_rolls_back():
    d = decide("fraud", PROGRESSIVE, 10, StepCounts(900, 9, 100, 1, canary_fallbacks=20))
    assert d.action == "rollback"
    assert any("canary's fallback rate" in reason for reason in d.reasons)
    assert d.evidence["counts"]["canary_fallbacks"] == 20


def test_fallbacks_of_the_primary_do_not_roll_the_canary_back():
    # Fallbacks are counted per routed variant: a primary falling back (here none of the canary's
    # calls did) says nothing against the canary.
    healthy = StepCounts(9_000, 90, 3_000, 30, canary_fallbacks=0, primary_p99_s=0.05, canary_p99_s=0.05)
    assert decide("fraud", PROGRESSIVE, 25, healthy).action == "promote"


def _with_outcome(users: int, primary_rate: float, canary_rate: float) -> StepCounts:
    # A canary as healthy as the primary on calls, errors and latency: only the outcome differs.
    return StepCounts(
        9_000,
        90,
        3_000,
        30,
        primary_p99_s=0.05,
        canary_p99_s=0.05,
        primary_users=users,
        primary_conversions=round(users * primary_rate),
        canary_users=users,
        canary_conversions=round(users * canary_rate),
    )


def test_a_canary_that_loses_the_ab_outcome_is_rolled_back():
    tau = 0.05 * 0.10  # the experiment's minimum detectable lift of the primary's 10% rate
    lost = decide("recommender", PROGRESSIVE, 25, _with_outcome(20_000, 0.10, 0.08), outcome_tau=tau)
    assert lost.action == "rollback" and lost.next_weight == 0
    assert any("outcome rate is lower" in r for r in lost.reasons), lost.reasons
    low, high = lost.evidence["outcomeConfidenceSequence"]
    assert high < 0 and lost.evidence["outcomeDifference"] == pytest.approx(-0.02)
    # The same counts without the guardrail (no experiment): promoted on errors and latency.
    assert decide("recommender", PROGRESSIVE, 25, _with_outcome(20_000, 0.10, 0.08)).action == "promote"
    # An equal outcome does not hold a healthy canary back.
    even = decide("recommender", PROGRESSIVE, 25, _with_outcome(20_000, 0.10, 0.10), outcome_tau=tau)
    even_low, even_high = even.evidence["outcomeConfidenceSequence"]
    assert even.action == "promote" and even_low < 0 < even_high


def _rolled_back_on_outcome(a: np.ndarray, b: np.ndarray, users_per_interval: int, tau: float) -> np.ndarray:
    """Per run: rolled back at some interval, judging cumulative conversions ``a`` and ``b``."""
    intervals, runs = a.shape
    rolled_back = np.zeros(runs, bool)
    for i in range(intervals):
        users = np.full(runs, users_per_interval * (i + 1))
        counts = StepCounts(
            np.full(runs, 9_000),
            np.full(runs, 90),
            np.full(runs, 100),  # below the minimum samples: only a rollback can happen
            np.full(runs, 1),
            primary_users=users,
            primary_conversions=a[i],
            canary_users=users,
            canary_conversions=b[i],
        )
        rolled_back |= judge(PROGRESSIVE, counts, outcome_tau=tau).action == ROLLBACK
    return rolled_back


def test_equal_outcomes_looked_at_every_interval_are_rolled_back_in_at_most_alpha_of_runs():
    rng = np.random.default_rng(23)
    runs, intervals, users_per_interval, rate = 4000, 30, 400, 0.10
    a = rng.binomial(users_per_interval, rate, (intervals, runs)).cumsum(axis=0)
    b = rng.binomial(users_per_interval, rate, (intervals, runs)).cumsum(axis=0)
    false_rollbacks = _rolled_back_on_outcome(a, b, users_per_interval, 0.05 * rate).mean()
    assert false_rollbacks <= PROGRESSIVE.alpha, false_rollbacks
    # A 20% lower canary outcome, looked at as often, is caught in most runs.
    lower = rng.binomial(users_per_interval, rate * 0.8, (intervals, runs)).cumsum(axis=0)
    caught = _rolled_back_on_outcome(a, lower, users_per_interval, 0.05 * rate).mean()
    assert caught >= 0.8, caught
