"""Bounded-memory windows of live rows, one per column.

A numeric column keeps counts in the reference's quantile bins, a fixed-size uniform reservoir
sample (rows picked by one ``RowSampler`` per window, shared by its columns) and running sums; a categorical column keeps counts per reference category plus the
``UNSEEN`` bucket (and the names of a bounded number of new categories). Memory depends on the
profile and the reservoir size, never on the number of rows seen.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from runtime.drift.arrays import bin_counts, category_key, decode_f64, encode_f64
from runtime.drift.profile import UNSEEN, CategoricalProfile, ColumnProfile, NumericProfile

__all__ = [
    "RowSampler",
    "NumericWindow",
    "CategoricalWindow",
    "ColumnWindow",
    "new_window",
    "window_from_dict",
    "DEFAULT_RESERVOIR",
]

DEFAULT_RESERVOIR = 10_000
_PLAIN_NUMBERS = {float, int}
"""What a JSON number decodes to; a column of only these needs no coercion."""
MAX_NEW_CATEGORIES = 100
"""New category names remembered per window for the report; their rows are all counted anyway."""


class RowSampler:
    """Which rows of a stream stay in a fixed-size uniform sample (Algorithm R, vectorized).

    One draw per row decides for every numeric column of the window at once: row ``t`` (0-based
    over the window) takes slot ``j ~ U{0..t}`` when ``j < capacity``."""

    def __init__(self, capacity: int = DEFAULT_RESERVOIR, seed: int = 0) -> None:
        self.capacity = capacity
        self.rows = 0
        self._rng = np.random.default_rng(seed)

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """For the next ``n`` rows: (slots to write, row indices to write there)."""
        fill = max(0, min(self.capacity - self.rows, n))
        slots = [np.arange(self.rows, self.rows + fill)]
        rows = [np.arange(fill)]
        if n > fill:
            seen = np.arange(self.rows + fill + 1, self.rows + n + 1, dtype=np.float64)
            drawn = (self._rng.random(n - fill) * seen).astype(np.int64)
            hit = np.flatnonzero(drawn < self.capacity)
            if hit.size:
                # later rows win a contested slot, as in the sequential algorithm
                _, last = np.unique(drawn[hit][::-1], return_index=True)
                chosen = hit[::-1][last]
                slots.append(drawn[chosen])
                rows.append(chosen + fill)
        self.rows += n
        return np.concatenate(slots), np.concatenate(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "rng": self._rng.bit_generator.state}

    def load(self, data: dict[str, Any]) -> None:
        self.rows = int(data["rows"])
        self._rng.bit_generator.state = data["rng"]


class NumericWindow:
    kind = "numeric"

    def __init__(self, profile: NumericProfile, capacity: int = DEFAULT_RESERVOIR) -> None:
        self.edges = profile.edges
        self.capacity = capacity
        self.counts = np.zeros(len(self.edges) + 1, dtype=np.int64)
        self.reservoir = np.full(capacity, np.nan)
        self.filled = 0
        """Reservoir slots written (missing values included, as NaN)."""
        self.rows = 0
        self.missing = 0
        self.total = 0.0
        self.total_sq = 0.0

    def add(self, values: Any, slots: np.ndarray, rows: np.ndarray) -> None:
        """Add a batch; ``slots``/``rows`` come from the window's ``RowSampler.take(len(values))``."""
        array = _floats(values)
        if slots.size:
            self.reservoir[slots] = array[rows]
            self.filled = min(self.capacity, max(self.filled, int(slots.max()) + 1))
        finite = np.isfinite(array)
        if not finite.all():
            self.missing += int(array.size - finite.sum())
            array = array[finite]
        if array.size == 0:
            return
        self.counts += bin_counts(self.edges, array)
        self.total += float(array.sum())
        self.total_sq += float(np.einsum("i,i->", array, array))  # not BLAS: its threads contend on busy hosts
        self.rows += int(array.size)

    @property
    def sample(self) -> np.ndarray:
        """The window's uniform sample of present values."""
        sample = self.reservoir[: self.filled]
        return sample[np.isfinite(sample)]

    @property
    def mean(self) -> float:
        return self.total / self.rows if self.rows else float("nan")

    @property
    def std(self) -> float:
        if not self.rows:
            return float("nan")
        return float(np.sqrt(max(self.total_sq / self.rows - self.mean**2, 0.0)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "counts": self.counts.tolist(),
            "reservoir": encode_f64(self.reservoir[: self.filled]),
            "rows": self.rows,
            "missing": self.missing,
            "total": self.total,
            "total_sq": self.total_sq,
        }

    def load(self, data: dict[str, Any]) -> None:
        counts = np.asarray(data["counts"], dtype=np.int64)
        if counts.size != self.counts.size:
            raise ValueError(f"persisted window has {counts.size} bins, the profile {self.counts.size}")
        reservoir = decode_f64(data["reservoir"])[: self.capacity]
        self.counts = counts
        self.reservoir[: reservoir.size] = reservoir
        self.filled = reservoir.size
        self.rows, self.missing = int(data["rows"]), int(data["missing"])
        self.total, self.total_sq = float(data["total"]), float(data["total_sq"])


class CategoricalWindow:
    kind = "categorical"

    def __init__(self, profile: CategoricalProfile) -> None:
        self.categories = [c for c in profile.counts if c != UNSEEN]
        self.index = {c: i for i, c in enumerate(self.categories)}
        self.counts = np.zeros(len(self.categories) + 1, dtype=np.int64)  # last cell: UNSEEN
        self.new_categories: dict[str, int] = {}
        self.rows = 0
        self.missing = 0

    def add(self, values: Any, slots: np.ndarray | None = None, rows: np.ndarray | None = None) -> None:
        present = 0
        for value, count in _value_counts(values):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                self.missing += int(count)
                continue
            present += int(count)
            key = category_key(value)
            slot = self.index.get(key)
            if slot is None:
                self.counts[-1] += count
                if key in self.new_categories or len(self.new_categories) < MAX_NEW_CATEGORIES:
                    self.new_categories[key] = self.new_categories.get(key, 0) + int(count)
            else:
                self.counts[slot] += count
        self.rows += present

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "counts": self.counts.tolist(),
            "new_categories": dict(self.new_categories),
            "rows": self.rows,
            "missing": self.missing,
        }

    def load(self, data: dict[str, Any]) -> None:
        counts = np.asarray(data["counts"], dtype=np.int64)
        if counts.size != self.counts.size:
            raise ValueError(f"persisted window has {counts.size} categories, the profile {self.counts.size}")
        self.counts = counts
        self.new_categories = {str(k): int(v) for k, v in data["new_categories"].items()}
        self.rows, self.missing = int(data["rows"]), int(data["missing"])


def _floats(values: Any) -> np.ndarray:
    """``values`` as float64, anything that is not a number as NaN."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values
    if isinstance(values, list) and set(map(type, values)) <= _PLAIN_NUMBERS:
        with contextlib.suppress(OverflowError):  # an int beyond float64: coerced below
            return np.array(values, dtype=np.float64)  # JSON numbers: what to_numeric makes of them
    return pd.to_numeric(pd.Series(values, copy=False), errors="coerce").to_numpy(dtype=np.float64)


def _value_counts(values: Any) -> Iterable[tuple[Any, int]]:
    """Each distinct value and its rows, in order of first appearance (missing ones included)."""
    if isinstance(values, list):
        try:
            return Counter(values).items()  # a JSON column: pandas' hash table gives the same counts
        except TypeError:  # an unhashable value (a list): pandas says which
            pass
    series = pd.Series(values, copy=False, dtype=object if isinstance(values, Sequence) else None)
    return series.value_counts(sort=False, dropna=False).items()


ColumnWindow = NumericWindow | CategoricalWindow


def new_window(profile: ColumnProfile, capacity: int = DEFAULT_RESERVOIR) -> ColumnWindow:
    if isinstance(profile, NumericProfile):
        return NumericWindow(profile, capacity)
    return CategoricalWindow(profile)


def window_from_dict(profile: ColumnProfile, data: dict[str, Any], capacity: int = DEFAULT_RESERVOIR) -> ColumnWindow:
    window = new_window(profile, capacity)
    if data.get("kind") != window.kind:
        raise ValueError(f"persisted window is {data.get('kind')!r}, the profile column is {window.kind!r}")
    window.load(data)
    return window
