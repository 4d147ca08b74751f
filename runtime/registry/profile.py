"""The drift reference profile logged beside each model version.

Per feature (and for the model's predictions) a bounded summary of the training data: counts,
missing values, quantiles and a binned histogram for numbers, value frequencies for categories.
The drift monitor compares live windows with it; it never needs the training rows themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["build_reference_profile", "PROFILE_FORMAT"]

PROFILE_FORMAT = "ml-serving.reference-profile/v1"
_QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
_BINS = 20
_MAX_CATEGORIES = 100


def _numeric(values: pd.Series) -> dict[str, Any]:
    present = values.dropna().astype(float)
    summary: dict[str, Any] = {"kind": "numeric", "count": int(present.size), "missing": int(values.isna().sum())}
    if present.empty:
        return summary
    edges = np.unique(np.quantile(present, np.linspace(0, 1, _BINS + 1)))
    counts, _ = np.histogram(present, bins=edges) if edges.size > 1 else (np.array([present.size]), edges)
    summary.update(
        mean=float(present.mean()),
        std=float(present.std(ddof=0)),
        quantiles={f"{q:g}": float(present.quantile(q)) for q in _QUANTILES},
        histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    )
    return summary


def _categorical(values: pd.Series) -> dict[str, Any]:
    present = values.dropna().astype(str)
    counts = present.value_counts()
    top = counts.head(_MAX_CATEGORIES)
    return {
        "kind": "categorical",
        "count": int(present.size),
        "missing": int(values.isna().sum()),
        "frequencies": {str(k): int(v) for k, v in top.items()},
        "other": int(counts.iloc[_MAX_CATEGORIES:].sum()),
    }


def _summary(values: pd.Series) -> dict[str, Any]:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return _categorical(values)
    return _numeric(values)


def build_reference_profile(features: pd.DataFrame, predictions: Any | None = None) -> dict[str, Any]:
    """Summaries of every column of ``features`` and of ``predictions``, JSON-ready."""
    profile: dict[str, Any] = {
        "format": PROFILE_FORMAT,
        "rows": int(len(features)),
        "features": {str(column): _summary(features[column]) for column in features.columns},
    }
    if predictions is not None:
        profile["predictions"] = _summary(pd.Series(np.asarray(predictions).ravel()))
    return profile
