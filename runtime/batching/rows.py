"""Joining requests' rows into one model input and splitting a prediction back by rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["concat_rows", "split_rows", "count_rows", "layout_of"]


def layout_of(part: Any) -> tuple:
    """What inputs must share to be stacked: their columns (a request may omit an optional
    input, and its rows must not gain a column of missing values) or an array's trailing shape."""
    if isinstance(part, pd.DataFrame):
        return ("frame", tuple(part.columns))
    if isinstance(part, Mapping):
        return ("columns", tuple(part))
    return ("array", np.shape(part)[1:])


def concat_rows(parts: Sequence[Any]) -> Any:
    """Stack inputs of one layout (DataFrames, arrays or dicts of arrays) row-wise."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    layouts = {layout_of(p) for p in parts}
    if len(layouts) > 1:
        raise ValueError(f"cannot stack inputs of different layouts: {sorted(layouts, key=repr)}")
    if isinstance(first, pd.DataFrame):
        return pd.concat(parts, ignore_index=True, copy=False)
    if isinstance(first, Mapping):
        return {key: np.concatenate([np.asarray(p[key]) for p in parts]) for key in first}
    return np.concatenate([np.asarray(p) for p in parts])


def count_rows(value: Any) -> int:
    """Rows of a prediction or an input (the first dimension)."""
    if isinstance(value, Mapping):
        sizes = {len(v) for v in value.values()}
        if len(sizes) != 1:
            raise ValueError(f"outputs disagree on the number of rows: {sorted(sizes)}")
        return sizes.pop()
    return len(value)


def split_rows(prediction: Any, sizes: Sequence[int]) -> list[Any]:
    """Cut a prediction into consecutive parts of ``sizes`` rows, in order.

    The prediction must have exactly ``sum(sizes)`` rows; anything else means rows cannot be
    returned to their requests with certainty, so it is an error.
    """
    total = sum(sizes)
    rows = count_rows(prediction)
    if rows != total:
        raise ValueError(
            f"the model returned {rows} rows for {total} input rows; cannot split the batch back to its requests"
        )
    bounds = np.cumsum([0, *sizes])
    if isinstance(prediction, (pd.DataFrame, pd.Series)):
        parts = [prediction.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        return [p.reset_index(drop=True) for p in parts]
    if isinstance(prediction, Mapping):
        columns = {k: np.asarray(v) for k, v in prediction.items()}
        return [{k: v[a:b] for k, v in columns.items()} for a, b in zip(bounds[:-1], bounds[1:])]
    array = np.asarray(prediction)
    return [array[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
