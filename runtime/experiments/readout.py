"""The A/B readout: from an experiment's counts to a decision, with every number behind it.

``look`` runs the always-valid sequential test on the current counts and records a point of the
lift history (call it after each batch of exposures or outcomes: looking often is safe).
``build_readout`` assembles the readout: per arm users, exposures, conversion rate and revenue
per user with 95% intervals; the relative lift with its interval; the sequential test; the
sample-ratio check; the users per arm the test needs; guardrails from the gateway's per-variant
report; and the decision, one of ``DECISIONS``.
"""

from __future__ import annotations

from typing import Any

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
from runtime.errors import ModelNotFound
from runtime.experiments.store import ExperimentStore
from runtime.spec import ExperimentSpec, ModelSpec

__all__ = ["look", "build_readout", "DECISIONS", "MIN_USERS_PER_ARM", "MIN_CONVERSIONS", "MIN_GUARDRAIL_REQUESTS"]

DECISIONS = ("B wins", "A wins", "no difference yet", "SRM: do not trust")
MIN_USERS_PER_ARM = 100
MIN_CONVERSIONS = 10
"""Users each arm, and conversions arm A, needs before the test starts: then its mixture scale is
fixed once, from arm A's rate and the minimum detectable lift."""
MIN_GUARDRAIL_REQUESTS = 100
"""Requests each arm needs at the gateway before a guardrail can be breached."""


def _rates(store: ExperimentStore, kind: str) -> tuple[int, int, int, int]:
    a, b = store.counts
    return a.converted[kind], a.users, b.converted[kind], b.users


def _finite(value: float) -> float | None:
    return None if value != value else float(value)  # NaN -> None, so the JSON says "unknown"


def _experiment(spec: ModelSpec, model: str = "the model") -> tuple[ExperimentSpec, tuple[str, str]]:
    """The experiment of ``spec`` and its (A, B) arms."""
    if spec.experiment is None or spec.arms is None:
        raise ModelNotFound.no_experiment(model)
    return spec.experiment, spec.arms


def look(store: ExperimentStore, spec: ModelSpec) -> None:
    """Update the always-valid p-value and the lift history from the current counts."""
    experiment, _ = _experiment(spec)
    xa, na, xb, nb = _rates(store, experiment.outcome)
    if min(na, nb) < MIN_USERS_PER_ARM or (store.tau is None and xa < MIN_CONVERSIONS):
        return
    if store.tau is None:
        rate = min(max((xa + 1) / (na + 2), 1e-3), 0.5)
        store.tau = mixture_scale(rate, experiment.minimum_detectable_lift)
    test = sequential_test(xa, na, xb, nb, tau=store.tau, alpha=experiment.alpha, previous_p=store.sequential_p)
    store.sequential_p = float(test.p_value)
    if test.rejected and store.decided_after_users is None:
        store.decided_after_users = na + nb
    lift = relative_lift(xa, na, xb, nb)
    if store.history and store.history[-1]["users"] == na + nb:
        store.history.pop()  # outcomes of the same users: the newer point replaces the older
    base = xa / na if xa else float("nan")
    store.add_point(
        {
            "users": na + nb,
            "lift": _finite(lift.estimate),
            "low": _finite(lift.low),
            "high": _finite(lift.high),
            "band_low": _finite(test.low / base),
            "band_high": _finite(test.high / base),
            "p_value": store.sequential_p,
        }
    )


def _arm(store: ExperimentStore, index: int, variant: str, weight: float, kind: str) -> dict[str, Any]:
    counts = store.counts[index]
    rate = proportion_interval(counts.converted[kind], counts.users)
    revenue = mean_interval(counts.value_sum, counts.value_squares, counts.users)
    return {
        "variant": variant,
        "weight": weight,
        "users": counts.users,
        "exposures": counts.exposures,
        "conversions": counts.converted[kind],
        "conversions_by_kind": dict(counts.converted),
        "conversion_rate": {k: _finite(v) if isinstance(v, float) else v for k, v in rate.to_dict().items()},
        "revenue_per_user": {k: _finite(v) if isinstance(v, float) else v for k, v in revenue.to_dict().items()},
        "switched_users": counts.switched,
    }


def _guardrails(spec: ModelSpec, report: dict[str, Any] | None) -> dict[str, Any]:
    """Each arm's error rate, fallback rate and p99 from the gateway's report, and B's breaches."""
    if report is None:
        return {"available": False, "ok": None, "breaches": [], "arms": {}}
    experiment, names = _experiment(spec)
    rails = experiment.guardrails
    by_variant = {v["variant"]: v for v in report.get("variants", [])}
    a, b = (by_variant.get(name, {}) for name in names)
    p99_limit = rails.max_p99_ms or spec.latency_budget_ms
    breaches = []
    if min(a.get("requests") or 0, b.get("requests") or 0) >= MIN_GUARDRAIL_REQUESTS:
        for key, limit in (
            ("error_rate", rails.max_error_rate_increase),
            ("fallback_rate", rails.max_fallback_rate_increase),
        ):
            gap = (b.get(key) or 0.0) - (a.get(key) or 0.0)
            if gap > limit:
                breaches.append(f"B's {key.replace('_', ' ')} exceeds A's by {gap:.2%} (at most {limit:.2%} allowed)")
        for arm, stats in (("A", a), ("B", b)):
            if (stats.get("p99_ms") or 0.0) > p99_limit:
                breaches.append(f"{arm}'s p99 latency {stats['p99_ms']:.1f} ms exceeds {p99_limit:g} ms")
    keys = ("requests", "error_rate", "fallback_rate", "p50_ms", "p99_ms")
    arms = {label: {k: stats.get(k) for k in keys} for label, stats in (("A", a), ("B", b))}
    return {"available": True, "ok": not breaches, "breaches": breaches, "arms": arms, "p99_limit_ms": p99_limit}


def _decide(srm_mismatch: bool, rejected: bool, difference: float, guardrails: dict[str, Any]) -> tuple[str, str]:
    if srm_mismatch:
        return DECISIONS[
            3
        ], "users per arm do not follow the declared weights: randomization is broken, no lift can be trusted"
    if guardrails["breaches"]:
        return DECISIONS[1], "B breaks a guardrail: " + "; ".join(guardrails["breaches"])
    if rejected:
        winner = DECISIONS[0] if difference > 0 else DECISIONS[1]
        return winner, "the always-valid sequential test rejects equal rates"
    return DECISIONS[2], "the always-valid sequential test cannot yet tell the arms apart"


def build_readout(
    model: str, spec: ModelSpec, store: ExperimentStore, gateway_report: dict[str, Any] | None = None
) -> dict[str, Any]:
    experiment, arms = _experiment(spec, model)
    kind = experiment.outcome
    weights = {v.variant_name: v.weight or 0.0 for v in spec.live_variants}  # an arm's weight is above 0
    xa, na, xb, nb = _rates(store, kind)
    lift = relative_lift(xa, na, xb, nb)
    fixed = two_proportion_test(xa, na, xb, nb)
    srm = sample_ratio_check(
        [na, nb],
        store.expected if sum(store.expected) else [weights[a] for a in arms],
        alpha=experiment.srm_p_value,
    )
    tau = store.tau
    test = (
        sequential_test(xa, na, xb, nb, tau=tau, alpha=experiment.alpha, previous_p=store.sequential_p)
        if tau is not None
        else None
    )
    rate_a = xa / na if na else 0.0
    needed = (
        sequential_sample_size(
            rate_a, experiment.minimum_detectable_lift, alpha=experiment.alpha, power=experiment.power, tau=store.tau
        )
        if 0 < rate_a and rate_a * (1 + experiment.minimum_detectable_lift) < 1
        else None
    )
    guardrails = _guardrails(spec, gateway_report)
    decision, reason = _decide(
        srm.mismatch, bool(test and test.rejected), float(test.difference) if test else 0.0, guardrails
    )
    return {
        "model": model,
        "outcome": kind,
        "arms": {
            label: _arm(store, i, name, weights[name], kind)
            for i, (label, name) in enumerate(zip("AB", arms, strict=True))
        },
        "lift": {k: _finite(v) if isinstance(v, float) else v for k, v in lift.to_dict().items()},
        "fixed_horizon_test": {
            "z": _finite(fixed.z),
            "p_value": _finite(fixed.p_value),
            "note": "valid only when read once at a sample size fixed in advance",
        },
        "sequential": None
        if test is None
        else {
            "difference": float(test.difference),
            "low": float(test.low),
            "high": float(test.high),
            "p_value": float(test.p_value),
            "rejected": bool(test.rejected),
            "alpha": experiment.alpha,
            "tau": store.tau,
        },
        "srm": {
            "chi2": srm.chi2,
            "p_value": srm.p_value,
            "mismatch": srm.mismatch,
            "observed": srm.observed,
            "expected": srm.expected,
            "alpha": srm.alpha,
        },
        "minimum_detectable_lift": experiment.minimum_detectable_lift,
        "required_users_per_arm": needed,
        "users": na + nb,
        "decided_after_users": store.decided_after_users,
        "untracked_users": store.untracked_users,
        "unjoined_outcomes": store.unjoined_outcomes,
        "guardrails": guardrails,
        "decision": decision,
        "reason": reason,
        "history": store.history,
    }
