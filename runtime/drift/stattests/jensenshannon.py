"""Jensen-Shannon distance between binned (or categorical) distributions."""

from __future__ import annotations

import numpy as np
from scipy.spatial import distance

from runtime.drift.stattests.result import TestResult

__all__ = ["jensenshannon"]


def jensenshannon(reference_counts: np.ndarray, current_counts: np.ndarray, threshold: float = 0.1) -> TestResult:
    """``scipy.spatial.distance.jensenshannon`` of the two shares, base 2: the square root of the
    Jensen-Shannon divergence, 0 for equal distributions and 1 for disjoint ones. Symmetric and
    bounded, and unlike PSI it needs no floor for an empty bin, so a bin one side never saw adds a
    bounded amount rather than one set by an epsilon."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.sum() == 0 or cur.sum() == 0:
        return TestResult("jensenshannon", 0.0, None, threshold, False)
    score = float(distance.jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2.0))
    return TestResult("jensenshannon", score, None, threshold, score >= threshold)
