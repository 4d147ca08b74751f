"""Fisher's exact test of one rate against the reference's: the share of missing values, or the
share of rows in categories the reference never saw.

Exact rather than chi-square: the reference count of such rows is often 0, where the chi-square
approximation breaks down (an expected count near 0 turns one unseen value into p ~ 1e-4)."""

from __future__ import annotations

from typing import Literal

from scipy import stats

from runtime.drift.stattests.result import TestResult

__all__ = ["rate"]


def rate(
    reference_hits: int,
    reference_rows: int,
    current_hits: int,
    current_rows: int,
    threshold: float = 0.05,
    alternative: Literal["two-sided", "greater"] = "two-sided",
) -> TestResult:
    """Is the current share ``current_hits / current_rows`` different from (``greater``: above)
    the reference's? ``score`` is the current share."""
    if current_rows <= 0 or reference_rows <= 0:
        return TestResult("fisher", 0.0, 1.0, threshold, False)
    table = [[current_hits, current_rows - current_hits], [reference_hits, reference_rows - reference_hits]]
    p_value = float(stats.fisher_exact(table, alternative=alternative).pvalue)
    return TestResult("fisher", current_hits / current_rows, p_value, threshold, p_value < threshold)
