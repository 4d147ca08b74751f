"""Per-feature drift tests: pure functions, each returning a frozen ``TestResult``.

The registry is written out by hand below: which tests exist, what each one reads from a window
(samples or counts), whether it yields a p-value or a distance, and its default threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from runtime.drift.stattests.chi2 import chi2, pool_rare
from runtime.drift.stattests.ks import ks
from runtime.drift.stattests.psi import psi
from runtime.drift.stattests.rate import rate
from runtime.drift.stattests.result import TestResult
from runtime.drift.stattests.wasserstein import wasserstein

__all__ = ["TestResult", "StatTest", "STATTESTS", "ks", "chi2", "psi", "wasserstein", "pool_rare", "rate"]


@dataclass(frozen=True)
class StatTest:
    name: str
    function: Callable[[np.ndarray, np.ndarray, float], TestResult]
    reads: Literal["sample", "counts"]
    """``sample``: the reference sample and the window's reservoir (numeric columns only);
    ``counts``: counts per bin or category (any column)."""
    kind: Literal["p_value", "distance"]
    default_threshold: float | None
    """Default for distances; hypothesis tests use the spec's ``pValue``."""


STATTESTS: dict[str, StatTest] = {
    "ks": StatTest("ks", ks, "sample", "p_value", None),
    "chi2": StatTest("chi2", chi2, "counts", "p_value", None),
    "psi": StatTest("psi", psi, "counts", "distance", 0.1),
    "wasserstein": StatTest("wasserstein", wasserstein, "sample", "distance", 0.1),
}
