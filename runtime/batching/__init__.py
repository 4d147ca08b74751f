"""Adaptive batching of predict calls."""

from runtime.batching.adaptive import AdaptiveBatcher, ShuttingDown, Unbatched
from runtime.batching.rows import concat_rows, count_rows, split_rows

__all__ = ["AdaptiveBatcher", "Unbatched", "ShuttingDown", "concat_rows", "split_rows", "count_rows"]
