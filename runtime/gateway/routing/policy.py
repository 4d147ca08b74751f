"""What every routing policy shares: the interface, the weighted order and the stable hash.

A policy turns one request (the caller's metadata and the input tensors) into a ``Choice``: the
variants to try, in order. The gateway's core calls ``choose`` and nothing else, for REST and
gRPC alike; which variant comes first is the policy's business, the order after it is the same
for every policy (the primary, then the other live variants by weight), so retries and the
fallback behave alike whatever chose.

The stable hash is sha256 of ``model`` and the key, so every gateway replica, before and after a
restart, maps a key to the same point on the cumulative weights (Python's ``hash()`` is salted
per process and would not).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from runtime.spec import ModelSpec

__all__ = ["Choice", "RoutingPolicy", "Weights", "stable_point"]

_SCALE = float(1 << 64)


def stable_point(model: str, key: str) -> float:
    """A point in [0, 100) fixed by ``model`` and ``key`` alone."""
    digest = hashlib.sha256(f"{model}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE * 100.0


@dataclass(slots=True)
class Choice:
    order: list[str]
    """Variants to try, in order: the chosen one first."""
    key: str | None = None
    """The routing key the choice was made by (e.g. the user id), for the drift tap and experiments."""


class RoutingPolicy(Protocol):
    def choose(self, metadata: Mapping[str, str], inputs: list[dict[str, Any]]) -> Choice:
        """The variants to try for one request (``metadata``: lower-case header or gRPC keys)."""
        ...


class Weights:
    """A model's live variants on the cumulative weights, and the retry order after a chosen one."""

    def __init__(self, model: str, spec: ModelSpec, rng: random.Random | None = None) -> None:
        self.model = model
        live = [v for v in spec.live_variants if (v.weight or 0) > 0]
        # Names are resolved once: ``variant_name`` parses the model URI on every call.
        self._names = [v.variant_name for v in live]
        self._bounds: list[float] = []
        total = 0.0
        for variant in live:
            total += variant.weight or 0
            self._bounds.append(total)
        self._primary = spec.primary.variant_name
        others = sorted(spec.live_variants, key=lambda v: (v.role != "primary", -(v.weight or 0)))
        self._retry_order = [v.variant_name for v in others]
        self._rng = rng or random.Random()

    @property
    def names(self) -> list[str]:
        """Every live variant, the primary first (those a policy may name)."""
        return list(self._retry_order)

    def pick(self, key: str | None = None) -> str:
        """The variant at the key's stable point, or at a random point without a key."""
        point = stable_point(self.model, key) if key is not None else self._rng.random() * 100.0
        for name, bound in zip(self._names, self._bounds):
            if point < bound:
                return name
        return self._names[-1] if self._names else self._primary

    def order(self, chosen: str) -> list[str]:
        """``chosen``, then the primary, then the other live variants by weight."""
        return [chosen, *(name for name in self._retry_order if name != chosen)]
