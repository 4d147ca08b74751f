"""Each request to a variant drawn at random by the spec's weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.gateway.routing.policy import Choice, Weights
from runtime.spec import WeightedRoutingSpec

__all__ = ["WeightedPolicy"]


class WeightedPolicy:
    def __init__(self, weights: Weights, settings: WeightedRoutingSpec) -> None:
        self._weights = weights

    def choose(self, metadata: Mapping[str, str], inputs: list[dict[str, Any]]) -> Choice:
        return Choice(self._weights.order(self._weights.pick()))
