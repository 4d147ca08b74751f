"""Seeded rollouts of a canary, many at once: the counts each interval feed ``judge`` directly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.promote.analysis import PROMOTE, ROLLBACK, StepCounts, judge
from runtime.spec import ProgressiveSpec

__all__ = ["Rollouts", "simulate", "expected_intervals"]


@dataclass(frozen=True)
class Rollouts:
    weight: np.ndarray
    """The canary's weight at the end (100: it became primary, 0: rolled back)."""
    finished_at: np.ndarray
    """Interval (1-based) at which it became primary; 0 if it did not."""
    rolled_back_at: np.ndarray
    """Interval (1-based) of the rollback; 0 if none."""


def expected_intervals(progressive: ProgressiveSpec, calls_per_interval: float, start: float) -> int:
    """Intervals to primary when each step promotes as soon as it has the minimum samples."""
    steps = [s for s in progressive.steps if s >= start and s < 100]
    return sum(int(np.ceil(progressive.min_samples_per_step / (calls_per_interval * s / 100))) for s in steps)


def simulate(
    progressive: ProgressiveSpec,
    *,
    runs: int,
    intervals: int,
    calls_per_interval: int,
    primary_error: float,
    canary_error: float,
    p99_ratio: float = 1.0,
    start: float = 5,
    seed: int = 0,
    expected: bool = False,
) -> Rollouts:
    """``expected``: the counts are their expectations (no noise), the same for every run."""
    rng = np.random.default_rng(seed)
    steps = np.asarray(progressive.steps, float)
    weight = np.full(runs, float(start))
    live = np.ones(runs, bool)
    finished, rolled = np.zeros(runs, int), np.zeros(runs, int)
    pc, pe, cc, ce = (np.zeros(runs) for _ in range(4))
    for t in range(1, intervals + 1):
        share = weight / 100
        if expected:
            n_c = calls_per_interval * share
            e_c, e_p = n_c * canary_error, (calls_per_interval - n_c) * primary_error
        else:
            n_c = rng.binomial(calls_per_interval, share).astype(float)
            e_c = rng.binomial(n_c.astype(int), canary_error).astype(float)
            e_p = rng.binomial((calls_per_interval - n_c).astype(int), primary_error).astype(float)
        pc += np.where(live, calls_per_interval - n_c, 0)
        cc += np.where(live, n_c, 0)
        pe += np.where(live, e_p, 0)
        ce += np.where(live, e_c, 0)
        j = judge(
            progressive,
            StepCounts(pc, pe, cc, ce, np.zeros(runs), np.full(runs, 0.05), np.full(runs, 0.05 * p99_ratio)),
        )
        back = live & (j.action == ROLLBACK)
        up = live & (j.action == PROMOTE)
        rolled[back] = t
        weight[back] = 0
        nxt = steps[np.minimum(np.searchsorted(steps, weight, side="right"), len(steps) - 1)]
        weight = np.where(up, nxt, weight)
        finished[up & (weight >= 100)] = t
        live &= ~back & ~(up & (weight >= 100))
        for counts in (pc, pe, cc, ce):
            counts[up] = 0
    return Rollouts(weight, finished, rolled)
