"""Wasserstein (earth mover's) distance between samples, in units of the reference's standard deviation."""

from __future__ import annotations

import numpy as np
from scipy import stats

from runtime.drift.stattests.result import TestResult

__all__ = ["wasserstein"]

_MIN_SCALE = 1e-3


def wasserstein(reference: np.ndarray, current: np.ndarray, threshold: float = 0.1) -> TestResult:
    """``scipy.stats.wasserstein_distance`` divided by the reference standard deviation (floored at
    1e-3), so one threshold fits features of any scale: 0.1 means a shift of a tenth of a std."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if reference.size == 0 or current.size == 0:
        return TestResult("wasserstein", 0.0, None, threshold, False)
    scale = max(float(np.std(reference)), _MIN_SCALE)
    score = float(stats.wasserstein_distance(reference, current)) / scale
    return TestResult("wasserstein", score, None, threshold, score >= threshold)
