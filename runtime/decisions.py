"""The statistics every rollout decision uses: one module, pure functions, small frozen results.

The A/B readout (``runtime/experiments``) calls these, and so will canary promotion: the same
always-valid sequential test and the same sample-ratio check for both, so that "B wins" means
the same thing wherever it is said. Drift keeps its own tests (``runtime/drift/stattests``).

Every function takes counts, never rows, and accepts NumPy arrays as well as numbers (the results
then hold arrays of the same shape): a simulation of thousands of experiments is one call.

- ``proportion_interval``: Wilson score interval of a rate.
- ``mean_interval``: normal interval of a mean from its sum and sum of squares.
- ``two_proportion_test``: the pooled two-sided z test of two rates (a fixed-horizon test: valid
  only when looked at once, at a sample size fixed in advance).
- ``relative_lift``: ``rate_b / rate_a - 1`` with the log-ratio (Katz) interval.
- ``sequential_test``: the mixture sequential probability ratio test (mSPRT) of Johari, Koomen,
  Pekelis and Walsh ("Always valid inference", 2017/2021) on the difference of two rates, with its
  confidence sequence and always-valid p-value: looking after every event does not inflate the
  false positive rate above ``alpha``.
- ``sequential_sample_size``: users per arm at which the mSPRT detects a given relative lift with
  the given power.
- ``sample_ratio_check``: chi-square of the units assigned to each arm against the declared
  weights (sample ratio mismatch, SRM).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "Interval",
    "ProportionTest",
    "SequentialTest",
    "SampleRatio",
    "proportion_interval",
    "mean_interval",
    "two_proportion_test",
    "relative_lift",
    "mixture_scale",
    "sequential_test",
    "sequential_sample_size",
    "sample_ratio_check",
]

Number = Any
"""A float, or a NumPy array of them (broadcast together)."""


def _out(value: np.ndarray) -> Number:
    return float(value) if np.ndim(value) == 0 else value


@lru_cache(maxsize=64)
def _z(alpha: float) -> float:
    """The two-sided normal quantile of ``alpha`` (cached: a readout is looked at very often)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return NormalDist().inv_cdf(1 - alpha / 2)


@dataclass(frozen=True)
class Interval:
    estimate: Number
    low: Number
    high: Number
    level: float
    """Coverage, e.g. 0.95."""

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "level": self.level}


@dataclass(frozen=True)
class ProportionTest:
    difference: Number
    """rate_b - rate_a."""
    z: Number
    p_value: Number


@dataclass(frozen=True)
class SequentialTest:
    difference: Number
    """rate_b - rate_a."""
    low: Number
    high: Number
    """The confidence sequence of the difference at this moment (level 1 - alpha)."""
    p_value: Number
    """Always-valid p-value: the smallest ``1 / likelihood ratio`` seen so far."""
    rejected: Number
    """The rates differ: ``p_value <= alpha`` (once true, it stays true)."""
    alpha: float


@dataclass(frozen=True)
class SampleRatio:
    chi2: float
    p_value: float
    mismatch: bool
    """``p_value < alpha``: the assignment does not follow the declared weights."""
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    alpha: float


def proportion_interval(successes: Number, trials: Number, alpha: float = 0.05) -> Interval:
    """Wilson score interval (as statsmodels' ``proportion_confint(method="wilson")``)."""
    x, n, z = np.asarray(successes, float), np.asarray(trials, float), _z(alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / np.maximum(n, 1), np.nan)
        centre = (x + z * z / 2) / (n + z * z)
        half = z / (n + z * z) * np.sqrt(x * (n - x) / np.maximum(n, 1) + z * z / 4)
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return Interval(_out(rate), _out(low), _out(high), 1 - alpha)


def mean_interval(total: Number, total_squares: Number, n: Number, alpha: float = 0.05) -> Interval:
    """Normal interval of a mean from ``sum(x)``, ``sum(x**2)`` and ``n`` (sample variance, ddof 1)."""
    s, q, n, z = np.asarray(total, float), np.asarray(total_squares, float), np.asarray(n, float), _z(alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s / np.maximum(n, 1), np.nan)
        variance = np.where(n > 1, np.maximum(q - n * mean * mean, 0) / np.maximum(n - 1, 1), np.nan)
        half = z * np.sqrt(variance / np.maximum(n, 1))
    return Interval(_out(mean), _out(mean - half), _out(mean + half), 1 - alpha)


def two_proportion_test(x_a: Number, n_a: Number, x_b: Number, n_b: Number) -> ProportionTest:
    """Two-sided z test of equal rates with the pooled variance (statsmodels' ``proportions_ztest``)."""
    xa, na, xb, nb = (np.asarray(v, float) for v in (x_a, n_a, x_b, n_b))
    with np.errstate(invalid="ignore", divide="ignore"):
        pa, pb = xa / na, xb / nb
        pooled = (xa + xb) / (na + nb)
        se = np.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
        z = np.where(se > 0, (pb - pa) / se, 0.0)
    return ProportionTest(_out(pb - pa), _out(z), _out(2 * stats.norm.sf(np.abs(z))))


def relative_lift(x_a: Number, n_a: Number, x_b: Number, n_b: Number, alpha: float = 0.05) -> Interval:
    """``rate_b / rate_a - 1`` with the log-ratio interval; NaN while either arm has no success."""
    xa, na, xb, nb = (np.asarray(v, float) for v in (x_a, n_a, x_b, n_b))
    z = _z(alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (xb / nb) / (xa / na)
        se = np.sqrt(1 / xb - 1 / nb + 1 / xa - 1 / na)
        valid = (xa > 0) & (xb > 0)
        low = np.where(valid, ratio * np.exp(-z * se) - 1, np.nan)
        high = np.where(valid, ratio * np.exp(z * se) - 1, np.nan)
    return Interval(_out(np.where(valid, ratio - 1, np.nan)), _out(low), _out(high), 1 - alpha)


def mixture_scale(baseline: float, relative_lift: float) -> float:
    """The mSPRT's mixing standard deviation ``tau``: the absolute difference the test is tuned to
    find (``baseline * relative_lift``); a test so tuned needs the fewest users for that effect."""
    if not 0 < baseline < 1:
        raise ValueError(f"baseline must be a rate in (0, 1), got {baseline!r}")
    if relative_lift <= 0:
        raise ValueError(f"relative_lift must be positive, got {relative_lift!r}")
    return baseline * relative_lift


def _variance(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    # Plug-in Bernoulli variance, kept off 0 while an arm has no success (or no failure) yet.
    rate = (x + 1) / (n + 2)
    return rate * (1 - rate) / np.maximum(n, 1)


def _half_width(variance: np.ndarray, tau: float, alpha: float) -> np.ndarray:
    t2 = tau * tau
    return np.sqrt(variance * (variance + t2) / t2 * (2 * math.log(1 / alpha) + np.log((variance + t2) / variance)))


def sequential_test(
    x_a: Number,
    n_a: Number,
    x_b: Number,
    n_b: Number,
    *,
    tau: float,
    alpha: float = 0.05,
    previous_p: Number = 1.0,
) -> SequentialTest:
    """The mSPRT of equal rates with a normal mixture of scale ``tau`` over the difference.

    ``previous_p`` is the always-valid p-value of the previous look (1 at the start): the p-value
    only falls, so a decision once reached is kept. The confidence sequence is
    ``difference +- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)))``, where
    ``V`` is the variance of the difference; it excludes 0 exactly when the likelihood ratio
    ``sqrt(V / (V + tau^2)) exp(tau^2 d^2 / (2 V (V + tau^2)))`` reaches ``1 / alpha``.
    """
    if tau <= 0:
        raise ValueError(f"tau must be positive, got {tau!r}")
    _z(alpha)
    xa, na, xb, nb = (np.asarray(v, float) for v in (x_a, n_a, x_b, n_b))
    t2 = tau * tau
    with np.errstate(invalid="ignore", divide="ignore"):
        difference = np.where((na > 0) & (nb > 0), xb / np.maximum(nb, 1) - xa / np.maximum(na, 1), 0.0)
        variance = _variance(xa, na) + _variance(xb, nb)
        log_ratio = 0.5 * np.log(variance / (variance + t2)) + t2 * difference**2 / (2 * variance * (variance + t2))
        half = _half_width(variance, tau, alpha)
    p_value = np.minimum(np.asarray(previous_p, float), np.minimum(1.0, np.exp(-log_ratio)))
    return SequentialTest(
        _out(difference),
        _out(difference - half),
        _out(difference + half),
        _out(p_value),
        _out(p_value <= alpha) if np.ndim(p_value) else bool(p_value <= alpha),
        alpha,
    )


def sequential_sample_size(
    baseline: float,
    relative_lift: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    tau: float | None = None,
) -> int:
    """Users per arm (equal arms) at which the mSPRT detects ``relative_lift`` with ``power``.

    The test is counted as detecting only if the difference alone, at that size, lies beyond the
    confidence sequence with probability ``power``; crossing it at an earlier look only adds, so
    the real power at this size is at least ``power``.
    """
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power!r}")
    tau = tau or mixture_scale(baseline, relative_lift)
    p_a, p_b = baseline, baseline * (1 + relative_lift)
    if not p_b < 1:
        raise ValueError(f"baseline * (1 + relative_lift) must stay below 1, got {p_b!r}")
    delta, z_power = p_b - p_a, NormalDist().inv_cdf(power)
    unit = p_a * (1 - p_a) + p_b * (1 - p_b)

    def enough(n: int) -> bool:
        variance = np.asarray(unit / n)
        return bool(delta >= _half_width(variance, tau, alpha) + z_power * math.sqrt(unit / n))

    high = 16
    while not enough(high):
        high *= 2
        if high > 1 << 40:
            raise ValueError("the effect is too small to detect with any practical number of users")
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def sample_ratio_check(observed: Sequence[float], weights: Sequence[float], alpha: float = 0.001) -> SampleRatio:
    """Chi-square goodness of fit of units per arm against the declared weights (any scale).

    ``alpha`` is small by convention (0.001): a mismatch means broken randomization, and every
    other number of the experiment is then suspect.
    """
    counts = np.asarray(observed, float)
    share = np.asarray(weights, float)
    if counts.shape != share.shape or counts.ndim != 1 or len(counts) < 2:
        raise ValueError(
            f"observed and weights must be two equal-length lists of at least 2 arms, got {counts.shape} and {share.shape}"
        )
    if (share <= 0).any() or (counts < 0).any():
        raise ValueError("weights must be positive and observed counts non-negative")
    total = counts.sum()
    expected = share / share.sum() * total
    if total == 0:
        return SampleRatio(0.0, 1.0, False, tuple(counts.tolist()), tuple(expected.tolist()), alpha)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    p_value = float(stats.chi2.sf(chi2, len(counts) - 1))
    return SampleRatio(chi2, p_value, p_value < alpha, tuple(counts.tolist()), tuple(expected.tolist()), alpha)
