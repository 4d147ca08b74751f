"""Paired differences of two protocols' calls taken in turns: their median and how sure it is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["paired_summary"]


def paired_summary(differences: Sequence[float], resamples: int = 2000, seed: int = 14, block: int = 16) -> dict:
    """Median of paired differences (ms) with a bootstrap 95% interval of that median, the share
    of pairs below zero (the first of each pair faster) and the number of pairs.

    The pairs are in the order they were taken, and on a shared machine neighbours share its
    state of the moment, so they are resampled in runs of ``block`` consecutive pairs (a circular
    block bootstrap) rather than one by one, which would make the interval too narrow.
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.size == 0:
        raise ValueError("paired_summary needs at least one pair")
    n = d.size
    run = max(1, min(block, n))
    starts = np.random.default_rng(seed).integers(0, n, size=(resamples, -(-n // run)))
    index = ((starts[:, :, None] + np.arange(run)) % n).reshape(resamples, -1)[:, :n]
    medians = np.median(d[index], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return {
        "median_ms": float(np.median(d)),
        "ci95_ms": [float(low), float(high)],
        "faster_share": float(np.mean(d < 0)),
        "pairs": int(n),
        "block": run,
    }
