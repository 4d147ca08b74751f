"""One line of a cost estimate: a quantity per scenario times one unit price."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from components.cost.prices import Price

__all__ = ["SCENARIOS", "HOURS_PER_MONTH", "Item", "flat"]

SCENARIOS = ("min", "expected", "max")
"""Node groups and replicas at their minimum, at the size the declared load needs, at their maximum."""
HOURS_PER_MONTH = 730
"""AWS's convention for monthly figures (8,760 hours / 12)."""


@dataclass(frozen=True)
class Item:
    name: str
    """Stable and unique within an estimate (the diff matches items by it): ``nodes/cluster-cpu``."""
    category: str
    resource: str
    """The URN of the resource it prices, or the usage assumption it comes from."""
    quantity: Mapping[str, float]
    """Per scenario, in ``unit``."""
    unit: str
    price: Price
    factor: float = 1.0
    """Applied to the unit price (a spot discount; 1/1000 for prices per thousand requests)."""
    detail: Mapping[str, str] = field(default_factory=dict)
    """Per scenario, what the quantity is made of: ``3 x m6i.xlarge``."""

    @property
    def monthly(self) -> dict[str, float]:
        """Rounded to cents per item, so the items add up to the totals exactly."""
        return {s: round(self.quantity[s] * self.price.usd * self.factor, 2) for s in SCENARIOS}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "resource": self.resource,
            "quantity": dict(self.quantity),
            "unit": self.unit,
            "unitPriceUsd": round(self.price.usd * self.factor, 8),
            "price": self.price.key,
            "detail": dict(self.detail),
            "monthlyUsd": self.monthly,
        }


_T = TypeVar("_T")


def flat(value: _T) -> dict[str, _T]:
    """The same quantity in every scenario (what does not scale with the node groups)."""
    return {s: value for s in SCENARIOS}
