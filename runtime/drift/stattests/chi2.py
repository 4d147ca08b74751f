"""Chi-square test of homogeneity on counts (categories, or numeric values in reference bins)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from runtime.drift.stattests.result import TestResult

__all__ = ["chi2", "pool_rare"]


def chi2(
    reference_counts: np.ndarray, current_counts: np.ndarray, threshold: float = 0.05, min_expected: float = 0.0
) -> TestResult:
    """Chi-square of the 2 x k table (reference, current), as ``scipy.stats.chi2_contingency``
    without continuity correction. Cells empty in both rows are dropped; both rows are samples,
    so a reference of 100k rows is not treated as the exact truth. With ``min_expected`` above 0,
    rare cells are pooled first (``pool_rare``)."""
    if min_expected > 0:
        reference_counts, current_counts = pool_rare(reference_counts, current_counts, min_expected)
    table = np.vstack([np.asarray(reference_counts, dtype=np.float64), np.asarray(current_counts, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return TestResult("chi2", 0.0, 1.0, threshold, False)
    result = stats.chi2_contingency(table, correction=False)
    p_value = float(result.pvalue)
    return TestResult("chi2", float(result.statistic), p_value, threshold, p_value < threshold)


def pool_rare(
    reference_counts: np.ndarray, current_counts: np.ndarray, min_expected: float = 5.0
) -> tuple[np.ndarray, np.ndarray]:
    """Merge the cells whose smallest expected count is below ``min_expected`` into one cell, so
    the chi-square approximation holds for long-tailed categoricals. Cells the reference never
    saw are left as they are; the detector takes new categories out of the table and tests their
    share on its own (``stattests.rate``)."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    n_ref, n_cur = ref.sum(), cur.sum()
    total = n_ref + n_cur
    if total == 0:
        return ref, cur
    column = ref + cur
    expected_min = column * min(n_ref, n_cur) / total
    rare = (expected_min < min_expected) & (ref > 0)
    if rare.sum() < 2:
        return ref, cur
    keep = ~rare
    return np.append(ref[keep], ref[rare].sum()), np.append(cur[keep], cur[rare].sum())
