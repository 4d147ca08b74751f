"""The small frozen answer every statistical test gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["TestResult"]


@dataclass(frozen=True)
class TestResult:
    test: str
    """Name of the test: a key of ``STATTESTS``, or ``fisher`` for the rate tests."""
    score: float
    """The statistic (KS D, chi-square) or the distance (PSI, normalized Wasserstein, ...)."""
    p_value: float | None
    """For hypothesis tests; ``None`` for distances."""
    threshold: float
    """Significance level (hypothesis tests, before any correction) or distance threshold."""
    drifted: bool
    """``p_value < threshold`` or ``score >= threshold``, before any multiple-testing correction."""

    __test__ = False  # not a pytest test class

    @property
    def kind(self) -> Literal["p_value", "distance"]:
        return "distance" if self.p_value is None else "p_value"
