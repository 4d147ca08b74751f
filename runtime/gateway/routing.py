"""Variant choice: by the spec's weights, or sticky by a stable hash of a routing key.

The hash is sha256 of ``model`` and the key, so every gateway replica, before and after a
restart, maps a key to the same point on the cumulative weights (Python's ``hash()`` is salted
per process and would not).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from runtime.gateway.payload import first_value
from runtime.spec import ModelSpec, VariantSpec

__all__ = ["Router", "stable_point", "routing_key"]

_SCALE = float(1 << 64)


def stable_point(model: str, key: str) -> float:
    """A point in [0, 100) fixed by ``model`` and ``key`` alone."""
    digest = hashlib.sha256(f"{model}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE * 100.0


def routing_key(spec: ModelSpec, headers: Any, inputs: list[dict[str, Any]]) -> str | None:
    """The routing key of a request: the sticky header wins over the named input's first row."""
    routing = spec.routing
    if routing.sticky_header:
        value = headers.get(routing.sticky_header)
        if value:
            return value
    if routing.sticky_key:
        for tensor in inputs:
            if tensor.get("name") == routing.sticky_key:
                value = first_value(tensor.get("data"))
                if value is not None:
                    return str(value)
    return None


class Router:
    """Orders a model's live variants for one request: the chosen one first, then fallbacks."""

    def __init__(self, model: str, spec: ModelSpec, rng: random.Random | None = None) -> None:
        self.model = model
        live: list[VariantSpec] = [v for v in spec.live_variants if (v.weight or 0) > 0]
        # Names are resolved once: ``Variant.variant_name`` parses the model URI on every call.
        self._names = [v.variant_name for v in live]
        self._bounds: list[float] = []
        total = 0.0
        for variant in live:
            total += variant.weight or 0
            self._bounds.append(total)
        self._primary = spec.primary.variant_name
        # Retry order after the chosen variant: the primary first, then the rest by weight.
        others = sorted(spec.live_variants, key=lambda v: (v.role != "primary", -(v.weight or 0)))
        self._retry_order = [v.variant_name for v in others]
        self._rng = rng or random.Random()

    def choose(self, key: str | None = None) -> str:
        point = stable_point(self.model, key) if key is not None else self._rng.random() * 100.0
        for name, bound in zip(self._names, self._bounds):
            if point < bound:
                return name
        return self._names[-1] if self._names else self._primary

    def order(self, key: str | None = None) -> list[str]:
        """Variants to try, in order: the chosen one, the primary, then the other live variants."""
        chosen = self.choose(key)
        return [chosen, *(name for name in self._retry_order if name != chosen)]
