"""Two-sample Kolmogorov-Smirnov test on samples of a numeric column."""

from __future__ import annotations

import numpy as np
from scipy import stats

from runtime.drift.stattests.result import TestResult

__all__ = ["ks"]


def ks(reference: np.ndarray, current: np.ndarray, threshold: float = 0.05) -> TestResult:
    """KS statistic and p-value of ``scipy.stats.ks_2samp`` (two-sided, exact for small samples).

    In the monitor both inputs are uniform random samples (the profile's sample and the window's
    reservoir), so the p-value stays valid however many rows the window holds.
    """
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if reference.size == 0 or current.size == 0:
        return TestResult("ks", 0.0, 1.0, threshold, False)
    result = stats.ks_2samp(reference, current)
    p_value = float(result.pvalue)
    return TestResult("ks", float(result.statistic), p_value, threshold, p_value < threshold)
