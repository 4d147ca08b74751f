"""Sticky routing: a caller's routing key (a header, else an input's first row) pins a variant.

The key's stable point on the cumulative weights picks the variant, the same on every replica and
after every restart; a request without a key is routed by weight at random.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.gateway.payload import first_value
from runtime.gateway.routing.policy import Choice, Weights
from runtime.spec import StickyRoutingSpec

__all__ = ["StickyPolicy", "routing_key"]


def routing_key(settings: StickyRoutingSpec, metadata: Mapping[str, str], inputs: list[dict[str, Any]]) -> str | None:
    """The routing key of a request: the header wins over the named input's first row."""
    if settings.header:
        value = metadata.get(settings.header)
        if value:
            return value
    if settings.input:
        for tensor in inputs:
            if tensor.get("name") == settings.input:
                value = first_value(tensor.get("data"))
                if value is not None:
                    return str(value)
    return None


class StickyPolicy:
    def __init__(self, weights: Weights, settings: StickyRoutingSpec) -> None:
        self._weights = weights
        self._settings = settings

    def choose(self, metadata: Mapping[str, str], inputs: list[dict[str, Any]]) -> Choice:
        key = routing_key(self._settings, metadata, inputs)
        return Choice(self._weights.order(self._weights.pick(key)), key)
