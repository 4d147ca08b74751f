"""Population stability index between binned (or categorical) distributions."""

from __future__ import annotations

import numpy as np

from runtime.drift.stattests.result import TestResult

__all__ = ["psi", "PSI_EPSILON"]

PSI_EPSILON = 1e-4
"""Floor of a bin's share, so an empty bin does not make the index infinite."""


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, threshold: float = 0.1) -> TestResult:
    """PSI = sum((c - r) * ln(c / r)) over bins, with shares floored at ``PSI_EPSILON``.
    Common reading: below 0.1 stable, 0.1 to 0.25 moderate shift, above 0.25 major shift."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.sum() == 0 or cur.sum() == 0:
        return TestResult("psi", 0.0, None, threshold, False)
    r = np.clip(ref / ref.sum(), PSI_EPSILON, None)
    c = np.clip(cur / cur.sum(), PSI_EPSILON, None)
    score = float(np.sum((c - r) * np.log(c / r)))
    return TestResult("psi", score, None, threshold, score >= threshold)
