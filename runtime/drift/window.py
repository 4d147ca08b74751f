"""Bounded-memory windows of live rows, one per column.

A numeric column keeps counts in the reference's quantile bins, a fixed-size uniform reservoir
sample and running sums; a categorical column keeps counts per reference category plus the
``UNSEEN`` bucket (and the names of a bounded number of new categories). Memory depends on the
profile and the reservoir size, never on the number of rows seen.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from runtime.drift.profile import UNSEEN, CategoricalProfile, ColumnProfile, NumericProfile, bin_index, category_key

__all__ = ["NumericWindow", "CategoricalWindow", "ColumnWindow", "new_window", "window_from_dict", "DEFAULT_RESERVOIR"]

DEFAULT_RESERVOIR = 10_000
MAX_NEW_CATEGORIES = 100
"""New category names remembered per window for the report; their rows are all counted anyway."""


def _f64(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f8").copy()


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f8").tobytes()).decode("ascii")


class NumericWindow:
    kind = "numeric"

    def __init__(self, profile: NumericProfile, capacity: int = DEFAULT_RESERVOIR, seed: int = 0) -> None:
        self.edges = profile.edges
        self.capacity = capacity
        self.counts = np.zeros(len(self.edges) + 1, dtype=np.int64)
        self.reservoir = np.empty(capacity, dtype=np.float64)
        self.rows = 0
        self.missing = 0
        self.total = 0.0
        self.total_sq = 0.0
        self._rng = np.random.default_rng(seed)

    def add(self, values: Any) -> None:
        array = pd.to_numeric(pd.Series(values, copy=False), errors="coerce").to_numpy(dtype=np.float64)
        finite = np.isfinite(array)
        self.missing += int(array.size - finite.sum())
        array = array[finite]
        if array.size == 0:
            return
        self.counts += np.bincount(bin_index(self.edges, array), minlength=self.counts.size)
        self.total += float(array.sum())
        self.total_sq += float(np.dot(array, array))
        self._sample(array)
        self.rows += int(array.size)

    def _sample(self, array: np.ndarray) -> None:
        # Algorithm R, vectorized: row t (0-based over the window) replaces slot j ~ U{0..t} when j < capacity.
        fill = max(0, min(self.capacity - self.rows, array.size))
        if fill:
            self.reservoir[self.rows : self.rows + fill] = array[:fill]
        rest = array[fill:]
        if rest.size == 0:
            return
        seen = np.arange(self.rows + fill + 1, self.rows + array.size + 1, dtype=np.float64)
        slots = (self._rng.random(rest.size) * seen).astype(np.int64)
        hit = np.flatnonzero(slots < self.capacity)
        if hit.size:
            # later rows win a contested slot, as in the sequential algorithm
            rev_slots = slots[hit][::-1]
            _, first = np.unique(rev_slots, return_index=True)
            chosen = hit[::-1][first]
            self.reservoir[slots[chosen]] = rest[chosen]

    @property
    def sample(self) -> np.ndarray:
        return self.reservoir[: min(self.rows, self.capacity)]

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
            "kind": self.kind, "counts": self.counts.tolist(), "sample": _b64(self.sample), "rows": self.rows,
            "missing": self.missing, "total": self.total, "total_sq": self.total_sq,
            "rng": self._rng.bit_generator.state,
        }

    def load(self, data: dict[str, Any]) -> None:
        counts = np.asarray(data["counts"], dtype=np.int64)
        if counts.size != self.counts.size:
            raise ValueError(f"persisted window has {counts.size} bins, the profile {self.counts.size}")
        sample = _f64(data["sample"])[: self.capacity]
        self.counts = counts
        self.reservoir[: sample.size] = sample
        self.rows, self.missing = int(data["rows"]), int(data["missing"])
        self.total, self.total_sq = float(data["total"]), float(data["total_sq"])
        self._rng.bit_generator.state = data["rng"]


class CategoricalWindow:
    kind = "categorical"

    def __init__(self, profile: CategoricalProfile) -> None:
        self.categories = [c for c in profile.counts if c != UNSEEN]
        self.index = {c: i for i, c in enumerate(self.categories)}
        self.counts = np.zeros(len(self.categories) + 1, dtype=np.int64)  # last cell: UNSEEN
        self.new_categories: dict[str, int] = {}
        self.rows = 0
        self.missing = 0

    def add(self, values: Any) -> None:
        series = pd.Series(values, copy=False, dtype=object if isinstance(values, Sequence) else None)
        present = series.dropna()
        self.missing += int(series.size - present.size)
        for value, count in present.value_counts(sort=False).items():
            key = category_key(value)
            slot = self.index.get(key)
            if slot is None:
                self.counts[-1] += count
                if key in self.new_categories or len(self.new_categories) < MAX_NEW_CATEGORIES:
                    self.new_categories[key] = self.new_categories.get(key, 0) + int(count)
            else:
                self.counts[slot] += count
        self.rows += int(present.size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "counts": self.counts.tolist(), "new_categories": dict(self.new_categories),
            "rows": self.rows, "missing": self.missing,
        }

    def load(self, data: dict[str, Any]) -> None:
        counts = np.asarray(data["counts"], dtype=np.int64)
        if counts.size != self.counts.size:
            raise ValueError(f"persisted window has {counts.size} categories, the profile {self.counts.size}")
        self.counts = counts
        self.new_categories = {str(k): int(v) for k, v in data["new_categories"].items()}
        self.rows, self.missing = int(data["rows"]), int(data["missing"])


ColumnWindow = NumericWindow | CategoricalWindow


def new_window(profile: ColumnProfile, capacity: int = DEFAULT_RESERVOIR, seed: int = 0) -> ColumnWindow:
    if isinstance(profile, NumericProfile):
        return NumericWindow(profile, capacity, seed)
    return CategoricalWindow(profile)


def window_from_dict(profile: ColumnProfile, data: dict[str, Any], capacity: int = DEFAULT_RESERVOIR) -> ColumnWindow:
    window = new_window(profile, capacity)
    if data.get("kind") != window.kind:
        raise ValueError(f"persisted window is {data.get('kind')!r}, the profile column is {window.kind!r}")
    window.load(data)
    return window
