"""Delayed ground truth: join labels posted later with the predictions served, by request id.

Bounded on both sides: at most ``capacity`` served predictions are remembered (the oldest are
forgotten first), and per variant only the last ``buckets`` time buckets of counts are kept.
Accuracy is the share of labelled rows whose prediction equals the label; precision counts the
positive class (``1``/``true``) of binary outputs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from runtime.drift.profile import category_key

__all__ = ["LabelStore", "Bucket"]

_POSITIVE = "1"
_BOOLEAN = {"true": "1", "false": "0"}


def _key(value: Any) -> str:
    """Labels and predictions compare as strings; booleans as 1/0, so ``true`` matches ``1``."""
    kind = type(value)
    if kind is float:  # the usual JSON prediction: never spelled true/false
        return str(int(value)) if value.is_integer() else str(value)
    if kind is int:
        return str(value)
    key = category_key(value)
    return _BOOLEAN.get(key.lower(), key)


@dataclass
class Bucket:
    start: float
    labelled: int = 0
    correct: int = 0
    true_positive: int = 0
    predicted_positive: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    @property
    def precision(self) -> float | None:
        return self.true_positive / self.predicted_positive if self.predicted_positive else None


@dataclass
class LabelStore:
    capacity: int = 100_000
    bucket_seconds: float = 3600.0
    buckets: int = 168
    pending: OrderedDict[str, tuple[str, str, float]] = field(default_factory=OrderedDict)
    """request id -> (variant, prediction key, served at)."""
    series: dict[str, list[Bucket]] = field(default_factory=dict)
    changes: list[list[Any]] = field(default_factory=list)
    """What changed since ``take_changes``, in order: ``["r", id, variant, prediction, at]`` and
    ``["l", id, label]``; replaying them (``replay``) on the older state gives this one."""

    def remember(self, request_id: str, variant: str, prediction: Any, timestamp: float) -> None:
        key = _key(prediction)
        self.changes.append(["r", request_id, variant, key, timestamp])
        self._remember(request_id, variant, key, timestamp)

    def remember_many(self, served: Iterable[tuple[str, str, Any, float]]) -> None:
        """``remember`` each (request id, variant, prediction, timestamp), in order.

        The oldest are forgotten once, after the last: the same predictions are kept as when
        each is remembered alone, since both keep the ``capacity`` most recently served."""
        pending, changes = self.pending, self.changes
        for request_id, variant, prediction, timestamp in served:
            key = _key(prediction)
            changes.append(["r", request_id, variant, key, timestamp])
            pending[request_id] = (variant, key, timestamp)
            pending.move_to_end(request_id)
        for _ in range(len(pending) - self.capacity):
            pending.popitem(last=False)

    def _remember(self, request_id: str, variant: str, key: str, timestamp: float) -> None:
        self.pending[request_id] = (variant, key, timestamp)
        self.pending.move_to_end(request_id)
        while len(self.pending) > self.capacity:
            self.pending.popitem(last=False)

    def label(self, request_id: str, label: Any) -> bool:
        """Record the ground truth of one request; ``False`` when its prediction is unknown (or forgotten)."""
        truth = _key(label)
        found = self._label(request_id, truth)
        if found:
            self.changes.append(["l", request_id, truth])
        return found

    def take_changes(self) -> list[list[Any]]:
        changes, self.changes = self.changes, []
        return changes

    def replay(self, changes: list[list[Any]]) -> None:
        for change in changes:
            if change[0] == "r":
                self._remember(str(change[1]), str(change[2]), str(change[3]), float(change[4]))
            elif change[0] == "l":
                self._label(str(change[1]), str(change[2]))

    def _label(self, request_id: str, truth: str) -> bool:
        served = self.pending.pop(request_id, None)
        if served is None:
            return False
        variant, prediction, timestamp = served
        start = timestamp - timestamp % self.bucket_seconds
        series = self.series.setdefault(variant, [])
        bucket = next((b for b in series if b.start == start), None)
        if bucket is None:
            if len(series) >= self.buckets and start < series[0].start:
                return True  # older than every kept bucket
            bucket = Bucket(start)
            series.append(bucket)
            series.sort(key=lambda b: b.start)
            del series[: max(0, len(series) - self.buckets)]
        bucket.labelled += 1
        bucket.correct += prediction == truth
        if prediction == _POSITIVE:
            bucket.predicted_positive += 1
            bucket.true_positive += truth == _POSITIVE
        return True

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        return {
            variant: [{**vars(b), "accuracy": b.accuracy, "precision": b.precision} for b in buckets]
            for variant, buckets in self.series.items()
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "pending": [[k, *v] for k, v in self.pending.items()],
            "series": {v: [vars(b) for b in buckets] for v, buckets in self.series.items()},
        }

    def load(self, data: dict[str, Any]) -> None:
        self.pending = OrderedDict((k, (v, p, float(t))) for k, v, p, t in data["pending"][-self.capacity :])
        self.series = {v: [Bucket(**b) for b in buckets][-self.buckets :] for v, buckets in data["series"].items()}
