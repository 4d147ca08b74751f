"""Paired differences of two protocols' calls taken in turns: their median and how sure it is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["paired_summary"]


def paired_summary(differences: Sequence[float], resamples: int = 2000, seed: int = 14) -> dict:
    """Median of paired differences (ms) with a percentile-bootstrap 95% interval of that median,
    the share of pairs below zero (the first of each pair faster) and the number of pairs."""
    d = np.asarray(differences, dtype=np.float64)
    if d.size == 0:
        raise ValueError("paired_summary needs at least one pair")
    medians = np.median(np.random.default_rng(seed).choice(d, size=(resamples, d.size)), axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return {
        "median_ms": float(np.median(d)),
        "ci95_ms": [float(low), float(high)],
        "faster_share": float(np.mean(d < 0)),
        "pairs": int(d.size),
    }
