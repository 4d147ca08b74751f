"""Header match: requests whose header carries one of the given values go to one named variant
(internal testers, dogfooding, a partner's integration), every other request by weight.

The named variant may hold weight 0, so that only the matching requests ever reach it. When it
fails, the request moves on as every policy's do: to the primary, then the other live variants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.gateway.routing.policy import Choice, Weights
from runtime.spec.routing import HeaderMatchRoutingSpec

__all__ = ["HeaderMatchPolicy"]


class HeaderMatchPolicy:
    def __init__(self, weights: Weights, settings: HeaderMatchRoutingSpec) -> None:
        self._weights = weights
        # REST headers match any case; gRPC metadata keys arrive lower-case.
        self._header = settings.header.lower()
        self._values = frozenset(settings.values)
        self._matched = weights.order(settings.variant)

    def choose(self, metadata: Mapping[str, str], inputs: list[dict[str, Any]]) -> Choice:
        if metadata.get(self._header) in self._values:
            return Choice(list(self._matched))
        return Choice(self._weights.order(self._weights.pick()))
