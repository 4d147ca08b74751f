"""The promotion decision of one canary: promote to the next step, hold, or roll back.

Counts are those of the current step (since the gateways took its weight), summed over every
gateway replica. The error guardrail is the always-valid sequential test of
``runtime.decisions`` (mSPRT with its confidence sequence), so evaluating every interval does not
inflate false rollbacks or false promotions:

- roll back when the confidence sequence of ``canary error rate - primary error rate`` lies
  above 0 (the canary is worse, at level ``1 - alpha``), or when the share of the canary's calls
  that ended in the fallback is above ``maxFallbackRate`` (Wilson lower bound; the gateway counts
  each fallback under the variant its request was routed to);
- when the model runs an experiment (``outcome_tau`` given), roll back when the confidence
  sequence of ``canary outcome rate - primary outcome rate`` (users who converted, per arm) lies
  below 0: the canary is shown to lose the A/B outcome;
- once the canary has ``minSamplesPerStep`` calls: over ``maxP99Ratio`` gets ``p99Action``;
  otherwise promote when the confidence sequence lies below ``maxErrorRateIncrease``;
- hold in every other case.

``judge`` works on NumPy arrays (thousands of simulated rollouts in one call); ``decide`` is the
scalar form with the evidence a reviewer reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from runtime.decisions import Number, proportion_interval, sequential_test
from runtime.spec import ProgressiveSpec

__all__ = [
    "HOLD",
    "PROMOTE",
    "ROLLBACK",
    "ACTIONS",
    "StepCounts",
    "Judgement",
    "Decision",
    "judge",
    "decide",
    "next_weight",
]

HOLD, PROMOTE, ROLLBACK = 0, 1, 2
ACTIONS = ("hold", "promote", "rollback")


@dataclass(frozen=True)
class StepCounts:
    """What the gateways measured for one model during the current step."""

    primary_calls: Number
    primary_errors: Number
    canary_calls: Number
    canary_errors: Number
    canary_fallbacks: Number = 0
    """Fallback answers to requests routed to the canary."""
    primary_p99_s: Number = float("nan")
    canary_p99_s: Number = float("nan")
    primary_users: Number = 0
    """Users of the experiment's primary arm (the A/B outcome guardrail; 0 without an experiment)."""
    primary_conversions: Number = 0
    canary_users: Number = 0
    canary_conversions: Number = 0


@dataclass(frozen=True)
class Judgement:
    action: Number
    """HOLD, PROMOTE or ROLLBACK (an int array for array counts)."""
    error_difference: Number
    error_low: Number
    error_high: Number
    """Confidence sequence of canary minus primary error rate."""
    error_p_value: Number
    p99_ratio: Number
    fallback_rate_low: Number
    enough_samples: Number
    outcome_difference: Number = float("nan")
    outcome_low: Number = float("nan")
    outcome_high: Number = float("nan")
    """Confidence sequence of canary minus primary outcome rate (NaN without an experiment)."""


@dataclass(frozen=True)
class Decision:
    model: str
    action: str
    """'promote', 'hold' or 'rollback'."""
    weight: float
    """The canary's weight now."""
    next_weight: float
    """The canary's weight after the decision (100: it becomes primary; 0: rolled back)."""
    reasons: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(canary: np.ndarray, primary: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(primary > 0, canary / primary, np.nan)


def judge(progressive: ProgressiveSpec, counts: StepCounts, outcome_tau: float | None = None) -> Judgement:
    """The decision for array (or scalar) counts; see the module docstring for the rules."""
    errors = sequential_test(
        counts.primary_errors,
        counts.primary_calls,
        counts.canary_errors,
        counts.canary_calls,
        tau=progressive.max_error_rate_increase,
        alpha=progressive.alpha,
    )
    low, high = np.asarray(errors.low), np.asarray(errors.high)
    has_both = (np.asarray(counts.primary_calls) > 0) & (np.asarray(counts.canary_calls) > 0)
    fallback_low = np.nan_to_num(
        np.asarray(proportion_interval(counts.canary_fallbacks, counts.canary_calls, progressive.alpha).low)
    )
    ratio = _ratio(np.asarray(counts.canary_p99_s, float), np.asarray(counts.primary_p99_s, float))
    enough = np.asarray(counts.canary_calls) >= progressive.min_samples_per_step
    slow = enough & (ratio > progressive.max_p99_ratio)
    worse = has_both & (low > 0)
    action = np.full(np.broadcast(low, ratio, enough).shape, HOLD)
    action = np.where(enough & ~slow & (high <= progressive.max_error_rate_increase), PROMOTE, action)
    action = np.where(slow, ROLLBACK if progressive.p99_action == "rollback" else HOLD, action)
    action = np.where(worse | (fallback_low > progressive.max_fallback_rate), ROLLBACK, action)
    nan = np.full(np.shape(action), np.nan)
    outcome: tuple[Any, Any, Any] = (nan, nan, nan)
    if outcome_tau is not None:
        test = sequential_test(
            counts.primary_conversions,
            counts.primary_users,
            counts.canary_conversions,
            counts.canary_users,
            tau=outcome_tau,
            alpha=progressive.alpha,
        )
        users = (np.asarray(counts.primary_users) > 0) & (np.asarray(counts.canary_users) > 0)
        outcome = (
            np.where(users, np.asarray(test.difference, float), np.nan),
            np.where(users, np.asarray(test.low, float), np.nan),
            np.where(users, np.asarray(test.high, float), np.nan),
        )
        action = np.where(users & (np.asarray(test.high) < 0), ROLLBACK, action)
    scalar = np.ndim(action) == 0
    return Judgement(
        int(action) if scalar else action,
        errors.difference,
        errors.low,
        errors.high,
        errors.p_value,
        float(ratio) if scalar else ratio,
        float(fallback_low) if scalar else fallback_low,
        bool(enough) if scalar else enough,
        *(float(v) if scalar else v for v in outcome),
    )


def next_weight(progressive: ProgressiveSpec, weight: float) -> float:
    """The first step above ``weight`` (100 once past the last but one)."""
    return next((step for step in progressive.steps if step > weight), 100.0)


def _reasons(progressive: ProgressiveSpec, counts: StepCounts, j: Judgement) -> tuple[str, ...]:
    p = progressive
    reasons = []
    if j.error_low > 0:
        reasons.append(
            f"canary error rate is higher than the primary's: difference {j.error_difference:+.4f}, "
            f"confidence sequence [{j.error_low:+.4f}, {j.error_high:+.4f}] lies above 0"
        )
    if j.fallback_rate_low > p.max_fallback_rate:
        reasons.append(
            f"canary's fallback rate is above {p.max_fallback_rate:g} (lower bound {j.fallback_rate_low:.4f})"
        )
    if j.outcome_high < 0:
        reasons.append(
            f"canary's outcome rate is lower than the primary's: difference {j.outcome_difference:+.4f}, "
            f"confidence sequence [{j.outcome_low:+.4f}, {j.outcome_high:+.4f}] lies below 0"
        )
    if not j.enough_samples:
        reasons.append(f"canary has {counts.canary_calls:g} of the {p.min_samples_per_step} calls a step needs")
    elif j.p99_ratio > p.max_p99_ratio:
        reasons.append(f"canary p99 is {j.p99_ratio:.2f}x the primary's (most {p.max_p99_ratio:g}x): {p.p99_action}")
    elif j.error_high > p.max_error_rate_increase:
        reasons.append(
            f"error difference not yet shown below {p.max_error_rate_increase:g} "
            f"(confidence sequence up to {j.error_high:+.4f})"
        )
    if j.action == PROMOTE:
        reasons.append(
            f"error difference below {p.max_error_rate_increase:g} (confidence sequence up to "
            f"{j.error_high:+.4f}), p99 ratio {j.p99_ratio:.2f}, {counts.canary_calls:g} canary calls"
        )
    return tuple(reasons)


def decide(
    model: str, progressive: ProgressiveSpec, weight: float, counts: StepCounts, outcome_tau: float | None = None
) -> Decision:
    """The decision for one model whose canary now has ``weight``, with its evidence; ``outcome_tau``
    (the mixture scale of the outcome test, in rate units) turns the A/B outcome guardrail on."""
    if weight <= 0:
        return Decision(model, "hold", weight, weight, ("the canary has weight 0 (rolled back): nothing to promote",))
    j = judge(progressive, counts, outcome_tau)
    action = ACTIONS[j.action]
    target = {"promote": next_weight(progressive, weight), "rollback": 0.0}.get(action, weight)
    evidence = {
        "counts": {k: float(v) for k, v in asdict(counts).items()},
        "errorDifference": j.error_difference,
        "errorConfidenceSequence": [j.error_low, j.error_high],
        "errorPValue": j.error_p_value,
        "alpha": progressive.alpha,
        "p99Ratio": None if np.isnan(j.p99_ratio) else j.p99_ratio,
        "fallbackRateLow": j.fallback_rate_low,
        "minSamplesPerStep": progressive.min_samples_per_step,
        "outcomeDifference": None if np.isnan(j.outcome_difference) else j.outcome_difference,
        "outcomeConfidenceSequence": None if np.isnan(j.outcome_low) else [j.outcome_low, j.outcome_high],
    }
    return Decision(model, action, weight, target, _reasons(progressive, counts, j), evidence)
