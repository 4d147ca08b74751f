"""Per model: what its replicas take of the nodes they land on, and what a million predictions cost.

A replica's share of a node is its dominant request: the largest of requested CPU, memory and
GPUs over the node's allocatable (a pod that takes the node's only GPU takes the whole node,
however little CPU it asks for). Shares are a view of the node items, not items of their own.
Canary and shadow variants are shown apart: a shadow's share is what shadow testing costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.cost.estimate import Estimate
from components.cost.items import HOURS_PER_MONTH, SCENARIOS

__all__ = ["VariantCost", "ModelCost", "model_costs", "node_share"]

_SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


def node_share(cpu_m: int, memory_mib: int, gpus: int, allocatable) -> float:
    shares = [cpu_m / allocatable.cpu_m, memory_mib / allocatable.memory_mib, 1 / allocatable.pods]
    if allocatable.gpus:
        shares.append(gpus / allocatable.gpus)
    return max(shares)


@dataclass(frozen=True)
class VariantCost:
    variant: str
    role: str
    group: str | None
    instance_type: str | None
    share: float
    replica_hourly_usd: float
    replicas: Mapping[str, int]

    @property
    def monthly(self) -> dict[str, float]:
        return {s: round(self.replicas[s] * self.replica_hourly_usd * HOURS_PER_MONTH, 2) for s in SCENARIOS}


@dataclass(frozen=True)
class ModelCost:
    model: str
    variants: list[VariantCost]
    expected_rps: float | None
    replica_rps: float | None
    replica_rps_source: str | None

    def monthly(self, roles: tuple[str, ...] = ("primary", "canary", "shadow")) -> dict[str, float]:
        return {s: round(sum(v.monthly[s] for v in self.variants if v.role in roles), 2) for s in SCENARIOS}

    @property
    def per_million(self) -> dict[str, float] | None:
        """Expected monthly cost over expected monthly predictions, all variants and the shadows' part."""
        if not self.expected_rps:
            return None
        millions = self.expected_rps * _SECONDS_PER_MONTH / 1e6
        return {
            "total": round(self.monthly()["expected"] / millions, 4),
            "shadow": round(self.monthly(("shadow",))["expected"] / millions, 4),
        }

    @property
    def per_million_at_capacity(self) -> float | None:
        """One primary replica busy at its throughput: the floor a million predictions can cost."""
        primary = next((v for v in self.variants if v.role == "primary"), None)
        if primary is None or not self.replica_rps:
            return None
        return round(primary.replica_hourly_usd / (self.replica_rps * 3600) * 1e6, 4)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "expectedRps": self.expected_rps,
            "replicaRps": self.replica_rps,
            "replicaRpsSource": self.replica_rps_source,
            "monthlyUsd": {
                "total": self.monthly(),
                "live": self.monthly(("primary",)),
                "canary": self.monthly(("canary",)),
                "shadow": self.monthly(("shadow",)),
            },
            "perMillionPredictionsUsd": self.per_million,
            "perMillionAtCapacityUsd": self.per_million_at_capacity,
            "variants": [
                {
                    "variant": v.variant,
                    "role": v.role,
                    "nodeGroup": v.group,
                    "instanceType": v.instance_type,
                    "nodeShare": round(v.share, 4),
                    "replicaHourlyUsd": round(v.replica_hourly_usd, 6),
                    "replicas": dict(v.replicas),
                    "monthlyUsd": v.monthly,
                }
                for v in self.variants
            ],
        }


def model_costs(est: Estimate) -> list[ModelCost]:
    out = []
    for name, model in est.spec.models.items():
        variants = []
        for workload, size, counts in est.placed:
            if workload.model != name:
                continue
            if size is None:
                variants.append(VariantCost(workload.variant or "", workload.role or "", None, None, 0.0, 0.0, counts))
                continue
            share = node_share(workload.cpu_m, workload.memory_mib, workload.gpus, size.allocatable)
            variants.append(
                VariantCost(
                    workload.variant or "",
                    workload.role or "",
                    size.group.name,
                    size.instance_type,
                    share,
                    share * size.hourly_usd,
                    counts,
                )
            )
        rps, source = est.replica_rps.get(name, (None, None))
        out.append(ModelCost(name, variants, model.expected_rps, rps, source))
    return out
