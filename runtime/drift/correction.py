"""Multiple-testing correction across the features of one window.

Benjamini-Hochberg (the default) bounds the expected share of false discoveries among the
features flagged (the false discovery rate); Bonferroni bounds the chance of flagging any feature
at all when nothing drifted (the family-wise error rate). When no feature drifted, every flag is
false, so both keep the chance of any false alarm on a no-shift window at or below the level.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import stats

__all__ = ["adjust", "reject"]


def adjust(p_values: np.ndarray, method: Literal["bh", "bonferroni"] = "bh") -> np.ndarray:
    """Adjusted p-values: compare each with the level to decide, in the input order."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p
    if method == "bh":
        return stats.false_discovery_control(p, method="bh")
    if method == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    raise ValueError(f"correction: expected 'bh' or 'bonferroni', got {method!r}")


def reject(p_values: np.ndarray, level: float, method: Literal["bh", "bonferroni"] = "bh") -> np.ndarray:
    """Which hypotheses are rejected (drifted) at ``level`` after the correction."""
    return adjust(p_values, method) <= level
