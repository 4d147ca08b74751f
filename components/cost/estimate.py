"""The monthly estimate of a stack: every item at minimum, expected and maximum size, and per model.

Node groups are priced at the number of nodes their pods need (packed against the allocatable of
the group's instance type), never below the group's minimum; at maximum, at the group's maximum.
Models are sized from ``expectedRps`` and one replica's throughput; their share of node cost is
shown by ``components.cost.shares`` apart from the items, so nothing is counted twice.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.cost.items import HOURS_PER_MONTH, SCENARIOS, Item
from components.cost.nodes import Allocatable, allocatable, instance_type
from components.cost.packing import Pod, pack
from components.cost.platform import Findings, platform_items
from components.cost.prices import PriceBook
from components.cost.workloads import NodeGroupInfo, Workload, cpu_millicores, node_groups, placement, workloads
from runtime.spec import StackSpec

__all__ = ["Estimate", "GroupSize", "estimate", "replicas", "variant_rps"]


@dataclass(frozen=True)
class GroupSize:
    group: NodeGroupInfo
    instance_type: str
    allocatable: Allocatable
    nodes: Mapping[str, int]
    hourly_usd: float
    """One node, the spot discount applied."""


@dataclass
class Estimate:
    stack: str
    region: str
    items: list[Item]
    groups: list[GroupSize]
    placed: list[tuple[Workload, GroupSize | None, Mapping[str, int]]]
    """Each workload, the group its pods land on, and its replicas per scenario."""
    book: PriceBook
    spec: StackSpec
    findings: Findings
    replica_rps: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    """Per model: one replica's requests per second and where the figure comes from."""

    @property
    def totals(self) -> dict[str, float]:
        return {s: round(sum(item.monthly[s] for item in self.items), 2) for s in SCENARIOS}


def variant_rps(spec: StackSpec, workload: Workload) -> float | None:
    """Requests per second one variant gets from the model's ``expectedRps`` (weight or mirror share)."""
    model = spec.models.get(workload.model or "")
    if model is None or model.expected_rps is None:
        return None
    for variant in model.variants:
        if variant.variant_name == workload.variant:
            share = variant.mirror_percent if variant.role == "shadow" else variant.weight
            return model.expected_rps * (share or 0) / 100
    return None


def replicas(workload: Workload, rps: float | None, per_replica: float | None) -> dict[str, int]:
    expected = workload.min
    if rps is not None and per_replica:
        expected = min(max(math.ceil(rps / per_replica - 1e-9), workload.min), workload.max)
    return {"min": workload.min, "expected": expected, "max": workload.max}


def _priced_type(group: NodeGroupInfo, pods: list[Pod], findings: Findings) -> str:
    """The first listed type every pod fits on; the autoscaler plans with one shape per group."""
    for name in group.instance_types:
        node = allocatable(instance_type(name))
        if all(p.cpu_m <= node.cpu_m and p.memory_mib <= node.memory_mib and p.gpus <= node.gpus for p in pods):
            if name != group.instance_type:
                findings.warnings.append(
                    f"{group.name}: pods placed on it do not fit one {group.instance_type} node (allocatable "
                    f"{allocatable(instance_type(group.instance_type)).cpu_m}m CPU, "
                    f"{allocatable(instance_type(group.instance_type)).memory_mib}Mi); priced as {name}. "
                    "cluster-autoscaler sizes a group by one instance shape: list types of the same size, "
                    "or lower the requests"
                )
            return name
    findings.warnings.append(
        f"{group.name}: some pods fit none of {', '.join(group.instance_types)}; they cannot be scheduled"
    )
    return group.instance_type


def _size_groups(spec: StackSpec, document: Mapping[str, Any], book: PriceBook, findings: Findings, rps_of):
    groups = node_groups(document)
    placed_raw = []
    for w in workloads(document):
        group = placement(w, groups)
        counts = replicas(w, variant_rps(spec, w), rps_of(w.model))
        placed_raw.append((w, group, counts))
        if group is None and groups:
            findings.warnings.append(
                f"{w.name}: no node group matches its nodeSelector and tolerations; it cannot be scheduled"
            )
    sizes = []
    discount = spec.platform.cost.usage.spot_discount_percent
    for group in groups:
        mine = [(w, counts) for w, g, counts in placed_raw if g is group]
        all_pods = [Pod(w.cpu_m, w.memory_mib, w.gpus) for w, _ in mine]
        name = _priced_type(group, all_pods, findings)
        node = allocatable(instance_type(name))
        nodes = {}
        for scenario in SCENARIOS:
            pods = [Pod(w.cpu_m, w.memory_mib, w.gpus) for w, counts in mine for _ in range(counts[scenario])]
            needed = pack(pods, node).nodes
            nodes[scenario] = group.max if scenario == "max" else min(max(needed, group.min), group.max)
            if needed > group.max:
                findings.warnings.append(
                    f"{group.name}: at {scenario} replicas its pods need {needed} {name} nodes but the group's max is "
                    f"{group.max}; pods past it stay Pending (raise cpuNodes/gpuNodes max or lower the replicas' requests)"
                )
        price = book.get(f"ec2/{name}/hour").usd
        factor = 1 - discount / 100 if group.capacity_type == "SPOT" else 1.0
        sizes.append(GroupSize(group, name, node, nodes, price * factor))
    by_group = {id(s.group): s for s in sizes}
    placed = [(w, by_group.get(id(g)) if g is not None else None, counts) for w, g, counts in placed_raw]
    return sizes, placed


def _group_items(sizes: list[GroupSize], book: PriceBook, discount: float) -> list[Item]:
    out = []
    for size in sizes:
        group = size.group
        spot = group.capacity_type == "SPOT"
        factor = 1 - discount / 100 if spot else 1.0
        label = f"{'spot' if spot else 'on-demand'}{f' at -{discount:g}%' if spot and discount else ''}"
        out.append(
            Item(
                f"nodes/{group.name}",
                "compute",
                group.urn,
                {s: n * HOURS_PER_MONTH for s, n in size.nodes.items()},
                "node-hour",
                book.get(f"ec2/{size.instance_type}/hour"),
                factor=factor,
                detail={s: f"{n} x {size.instance_type} {label}" for s, n in size.nodes.items()},
            )
        )
        out.append(
            Item(
                f"nodes/{group.name}/disk",
                "compute",
                group.urn,
                {s: n * group.disk_gb for s, n in size.nodes.items()},
                "GB-month",
                book.get("ebs/gp2/gb-month"),
                detail={s: f"{n} x {group.disk_gb} GB gp2 root volume" for s, n in size.nodes.items()},
            )
        )
    return out


def estimate(
    spec: StackSpec,
    document: Mapping[str, Any],
    region: str,
    book: PriceBook,
    bench_rps_per_cpu: float | None = None,
    today: datetime.date | None = None,
) -> Estimate:
    """Price ``document`` (a render of ``spec``'s stack); ``today`` decides the EKS support tier."""
    findings = Findings()
    replica_rps: dict[str, tuple[float, str]] = {}
    for name, model in spec.models.items():
        cpus = cpu_millicores(model.resources.cpu) / 1000
        if model.replica_rps is not None:
            replica_rps[name] = (model.replica_rps, f"declared (ml-serving:models.{name}.replicaRps)")
        elif bench_rps_per_cpu is not None:
            # The benchmark pins one model server to one CPU; a replica is assumed to scale with its CPUs.
            replica_rps[name] = (
                bench_rps_per_cpu * cpus,
                f"bench/modelserver.py: {bench_rps_per_cpu:g} req/s per CPU x {cpus:g} CPU",
            )

    def rps_of(model: str | None) -> float | None:
        return replica_rps.get(model or "", (None, ""))[0]

    sizes, placed = _size_groups(spec, document, book, findings, rps_of)
    usage = spec.platform.cost.usage
    items = [
        *platform_items(document, usage, book, findings, today),
        *_group_items(sizes, book, usage.spot_discount_percent),
    ]
    items.sort(key=lambda i: (i.category, i.name))
    return Estimate(spec.stack, region, items, sizes, placed, book, spec, findings, replica_rps)
