"""Variant choice per request: one interface (``RoutingPolicy.choose``), one factory, a module per policy.

A new policy is one module here, one line in ``_POLICIES`` and its member of the spec's
``routing.policy`` union (``runtime/spec/routing.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from runtime.gateway.routing.header import HeaderMatchPolicy
from runtime.gateway.routing.policy import Choice, RoutingPolicy, Weights, stable_point
from runtime.gateway.routing.sticky import StickyPolicy
from runtime.gateway.routing.weighted import WeightedPolicy
from runtime.spec import ModelSpec

__all__ = ["Choice", "RoutingPolicy", "build_policy", "stable_point"]

_POLICIES: dict[str, Callable[[Weights, Any], RoutingPolicy]] = {
    "weighted": WeightedPolicy,
    "sticky": StickyPolicy,
    "headerMatch": HeaderMatchPolicy,
}


def build_policy(model: str, spec: ModelSpec, rng: random.Random | None = None) -> RoutingPolicy:
    """The routing policy ``spec.routing.policy`` declares, over the model's live variants."""
    settings = spec.routing.policy
    return _POLICIES[settings.type](Weights(model, spec, rng), settings)
