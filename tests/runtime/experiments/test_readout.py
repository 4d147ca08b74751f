"""The readout's numbers against an independent computation, and its decisions."""

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from runtime.decisions import sequential_test
from runtime.experiments.readout import build_readout, look
from runtime.experiments.report import render_readout
from runtime.experiments.store import ExperimentStore


def _fill(store, users_a, clicks_a, users_b, clicks_b, weights=(50, 50), looks=20, values=None):
    """Users arrive interleaved; the store is looked at after every 1/looks of them."""
    order = [("popular", i) for i in range(users_a)] + [("als", i) for i in range(users_b)]
    rng = np.random.default_rng(0)
    rng.shuffle(order)
    step = max(len(order) // looks, 1)
    for n, (arm, i) in enumerate(order, 1):
        user = f"{arm}-{i}"
        store.expose(user, arm, f"r-{user}", weights)
        if i < (clicks_a if arm == "popular" else clicks_b):
            store.outcome("click", user, None, values[arm] if values else 0.0)
        if n % step == 0:
            yield n


def _run(store, spec, *args, **kwargs):
    for _ in _fill(store, *args, **kwargs):
        look(store, spec)
    return build_readout("recommender", spec, store)


def test_final_estimates_and_intervals_match_statsmodels(spec):
    store = ExperimentStore(spec.arms)
    r = _run(store, spec, 3000, 240, 3100, 301, values={"popular": 2.0, "als": 3.0})
    a, b = r["arms"]["A"], r["arms"]["B"]
    assert (a["users"], a["conversions"], b["users"], b["conversions"]) == (3000, 240, 3100, 301)
    for arm, (x, n) in ((a, (240, 3000)), (b, (301, 3100))):
        low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
        assert arm["conversion_rate"]["estimate"] == pytest.approx(x / n)
        assert (arm["conversion_rate"]["low"], arm["conversion_rate"]["high"]) == pytest.approx((low, high), abs=1e-12)
    z, p = proportions_ztest([301, 240], [3100, 3000])
    assert r["fixed_horizon_test"]["z"] == pytest.approx(z) and r["fixed_horizon_test"]["p_value"] == pytest.approx(p)
    assert r["lift"]["estimate"] == pytest.approx((301 / 3100) / (240 / 3000) - 1)
    values = np.r_[np.full(301, 3.0), np.zeros(3100 - 301)]
    half = 1.959963984540054 * values.std(ddof=1) / np.sqrt(len(values))
    assert b["revenue_per_user"]["estimate"] == pytest.approx(values.mean())
    assert b["revenue_per_user"]["high"] == pytest.approx(values.mean() + half)
    seq = sequential_test(240, 3000, 301, 3100, tau=store.tau, alpha=0.05)
    assert r["sequential"]["low"] == pytest.approx(seq.low) and r["sequential"]["p_value"] <= seq.p_value


def test_a_clear_lift_is_called_for_b_and_says_after_how_many_users(spec):
    store = ExperimentStore(spec.arms)
    r = _run(store, spec, 3000, 240, 3000, 420)
    assert r["decision"] == "B wins" and r["sequential"]["rejected"]
    assert 0 < r["decided_after_users"] <= 6000
    assert r["history"][-1]["users"] == 6000 and r["history"][-1]["band_low"] > 0
    page = render_readout(r)
    assert "<svg" in page and "<polygon" in page and "B wins" in page


def test_a_worse_b_is_called_for_a(spec):
    r = _run(ExperimentStore(spec.arms), spec, 3000, 420, 3000, 240)
    assert r["decision"] == "A wins"


def test_equal_arms_give_no_difference_yet_and_a_sample_size(spec):
    r = _run(ExperimentStore(spec.arms), spec, 2000, 200, 2000, 205)
    assert r["decision"] == "no difference yet"
    assert r["required_users_per_arm"] > 4000
    assert r["decided_after_users"] is None


def test_srm_overrides_any_lift(spec):
    store = ExperimentStore(spec.arms)
    r = _run(store, spec, 10_400, 832, 9_600, 1200, looks=5)
    assert r["srm"]["mismatch"] and r["decision"] == "SRM: do not trust"
    assert r["srm"]["expected"] == pytest.approx((10_000, 10_000))


def test_weights_changed_midway_are_no_srm(spec):
    store = ExperimentStore(spec.arms)
    list(_fill(store, 5000, 0, 5000, 0))
    list(_fill(store, 2000, 0, 8000, 0, weights=(20, 80)))  # ids repeat: only new users count
    assert store.counts[0].users == 5000
    store = ExperimentStore(spec.arms)
    for i in range(5000):
        store.expose(f"x{i}", "popular" if i % 2 else "als", None, (50, 50))
    for i in range(5000):
        store.expose(f"y{i}", "popular" if i % 5 == 0 else "als", None, (20, 80))
    r = build_readout("recommender", spec, store)
    assert not r["srm"]["mismatch"]
    assert r["srm"]["expected"] == pytest.approx((3500, 6500))


def test_guardrail_breach_keeps_a(spec):
    store = ExperimentStore(spec.arms)
    for _ in _fill(store, 3000, 240, 3000, 420):
        look(store, spec)
    report = {
        "variants": [
            {
                "variant": "popular",
                "requests": 5000,
                "error_rate": 0.001,
                "fallback_rate": 0.0,
                "p50_ms": 3,
                "p99_ms": 20,
            },
            {"variant": "als", "requests": 5000, "error_rate": 0.05, "fallback_rate": 0.0, "p50_ms": 4, "p99_ms": 30},
        ]
    }
    r = build_readout("recommender", spec, store, report)
    assert r["decision"] == "A wins" and "error rate" in r["reason"]
    assert r["guardrails"]["arms"]["B"]["error_rate"] == 0.05
    slow = {"variants": [dict(v, error_rate=0.0, p99_ms=250) for v in report["variants"]]}
    assert "p99 latency" in build_readout("recommender", spec, store, slow)["reason"]
    fine = {"variants": [dict(v, error_rate=0.0) for v in report["variants"]]}
    assert build_readout("recommender", spec, store, fine)["decision"] == "B wins"


def test_lift_is_found_in_80_percent_of_runs_at_the_size_the_readout_states(spec):
    """The readout's own sample size and mixture scale, replayed over 1,000 seeded experiments."""
    rate, mde = 0.10, spec.experiment.minimum_detectable_lift
    store = ExperimentStore(spec.arms)
    r = _run(store, spec, 2000, 200, 2000, 200)
    needed = r["required_users_per_arm"]
    rng = np.random.default_rng(17)
    runs, looks = 1000, 50
    batch = -(-needed // looks)
    xa = np.cumsum(rng.binomial(batch, rate, (runs, looks)), axis=1)
    xb = np.cumsum(rng.binomial(batch, rate * (1 + mde), (runs, looks)), axis=1)
    p = np.ones(runs)
    for k in range(looks):
        result = sequential_test(xa[:, k], batch * (k + 1), xb[:, k], batch * (k + 1), tau=store.tau, previous_p=p)
        p = result.p_value
    assert result.rejected.mean() >= 0.8


def test_aa_readout_looked_at_after_every_batch_names_a_winner_in_at_most_alpha_of_runs(spec):
    """The readout's own path (look after each batch, then decide) over 200 seeded A/A replays."""
    rng = np.random.default_rng(23)
    runs, looks, batch, rate = 200, 25, 200, 0.08
    winners = 0
    for _ in range(runs):
        store = ExperimentStore(spec.arms)
        clicks = np.cumsum(rng.binomial(batch, rate, (looks, 2)), axis=0)
        for look_index in range(looks):
            for arm in range(2):
                store.counts[arm].users = batch * (look_index + 1)
                store.counts[arm].converted["click"] = int(clicks[look_index, arm])
            store.expected = [batch * (look_index + 1)] * 2
            look(store, spec)
        winners += build_readout("recommender", spec, store)["decision"] in ("A wins", "B wins")
    assert winners / runs <= spec.experiment.alpha
