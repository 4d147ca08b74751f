"""Array helpers shared by the profile, the windows and their persisted state: binning against
quantile edges, the key a category is counted under, float arrays as base64 in JSON."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

__all__ = ["bin_index", "bin_counts", "category_key", "encode_f64", "decode_f64"]


def bin_index(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Bin of each value: bin ``i`` holds ``edges[i-1] <= v < edges[i]`` (bins 0 and len(edges) are open)."""
    return np.searchsorted(edges, values, side="right")


def bin_counts(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rows per bin (as ``bin_index`` assigns them) of finite ``values``.

    For the few edges of a profile, one vectorized comparison per edge is several times faster
    than a binary search per value; many edges fall back to the search."""
    if len(edges) > 64:
        return np.bincount(bin_index(edges, values), minlength=len(edges) + 1)
    below = [np.count_nonzero(values < edge) for edge in edges]
    return np.diff(np.array([0, *below, values.size], dtype=np.int64))


def category_key(value: Any) -> str:
    """The string a category is counted under, the same for training frames and JSON rows."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def encode_f64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f8").tobytes()).decode("ascii")


def decode_f64(text: str) -> np.ndarray:
    array = np.frombuffer(base64.b64decode(text), dtype="<f8").copy()
    array.flags.writeable = False
    return array
