"""In-process counts behind the promotion report: per variant of a model, since start.

Latencies are kept in a bounded window (the most recent ``window`` answers), so memory does
not grow with traffic and the percentiles describe recent behaviour.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["VariantStats", "ShadowStats", "ModelStats", "percentile"]

WINDOW = 10_000


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in [0, 100]) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class VariantStats:
    routed: int = 0
    """Requests whose first choice was this variant."""
    fallbacks: int = 0
    """Of those, answered by the fallback."""
    calls: int = 0
    """Calls made to this variant (first choices and retries)."""
    errors: int = 0
    """Calls that failed or timed out."""
    served: int = 0
    """Answers this variant gave."""
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))


@dataclass
class ShadowStats:
    mirrored: int = 0
    errors: int = 0
    dropped: int = 0
    compared: int = 0
    agreed: int = 0
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))


class ModelStats:
    def __init__(self, live: list[str], shadows: list[str]) -> None:
        self.variants = {name: VariantStats() for name in live}
        self.shadows = {name: ShadowStats() for name in shadows}
        self.requests = 0
        self.fallbacks = 0
        self.unanswered = 0
