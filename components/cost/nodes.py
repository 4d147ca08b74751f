"""What one node of an instance type offers pods: capacity, the EKS AMI's reservation, allocatable.

The reservation follows the EKS AMI's ``nodeadm`` (awslabs/amazon-eks-ami,
``nodeadm/internal/kubelet/config.go``): kube-reserved CPU is 6% of the first core, 1% of the
second, 0.5% of the third and fourth and 0.25% of the rest; kube-reserved memory is
``11 MiB x maxPods + 255 MiB``; eviction keeps ``memory.available`` at 100 MiB. ``maxPods`` is
``ENIs x (IPv4 addresses per ENI - 1) + 2`` (``eni_max_pods.go``), with the ENI figures of its
``instance-info.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import MLServingError

__all__ = [
    "InstanceType",
    "Allocatable",
    "INSTANCE_TYPES",
    "INSTANCE_SOURCE",
    "instance_type",
    "allocatable",
    "max_pods",
]

INSTANCE_SOURCE = (
    "vCPU, memory and GPUs: https://aws.amazon.com/ec2/instance-types/ (as of 2026-12-01); ENIs and IPv4 "
    "addresses per ENI: awslabs/amazon-eks-ami nodeadm/internal/kubelet/instance-info.jsonl at 81fec2e"
)


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    memory_gib: float
    gpus: int
    enis: int
    ipv4_per_eni: int


@dataclass(frozen=True)
class Allocatable:
    """What the scheduler may place on one node: millicores, MiB, GPUs and pod slots."""

    cpu_m: int
    memory_mib: int
    gpus: int
    pods: int
    reserved_cpu_m: int
    reserved_memory_mib: int


INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("t3.medium", 2, 4, 0, 3, 6),
        InstanceType("t3.large", 2, 8, 0, 3, 12),
        InstanceType("m5.large", 2, 8, 0, 3, 10),
        InstanceType("m5.xlarge", 4, 16, 0, 4, 15),
        InstanceType("m6i.large", 2, 8, 0, 3, 10),
        InstanceType("m6i.xlarge", 4, 16, 0, 4, 15),
        InstanceType("m6i.2xlarge", 8, 32, 0, 4, 15),
        InstanceType("m6i.4xlarge", 16, 64, 0, 8, 30),
        InstanceType("m6a.xlarge", 4, 16, 0, 4, 15),
        InstanceType("m6a.2xlarge", 8, 32, 0, 4, 15),
        InstanceType("c6i.xlarge", 4, 8, 0, 4, 15),
        InstanceType("g4dn.xlarge", 4, 16, 1, 3, 10),
        InstanceType("g5.xlarge", 4, 16, 1, 4, 15),
        InstanceType("g5.2xlarge", 8, 32, 1, 4, 15),
        InstanceType("g5.4xlarge", 16, 64, 1, 8, 30),
        InstanceType("g6.2xlarge", 8, 32, 1, 4, 15),
    )
}

_EVICTION_MEMORY_MIB = 100
# (upper bound of the range in millicores, reserved share in basis points) as nodeadm reserves.
_CPU_RANGES = ((1000, 600), (2000, 100), (4000, 50), (None, 25))


def instance_type(name: str) -> InstanceType:
    try:
        return INSTANCE_TYPES[name]
    except KeyError:
        raise MLServingError(
            f"instance type {name!r} is not in the cost estimate's table; known: {', '.join(sorted(INSTANCE_TYPES))} "
            "(add it to components/cost/nodes.py with its vCPU, memory, GPUs and ENI limits)"
        ) from None


def max_pods(t: InstanceType) -> int:
    return t.enis * (t.ipv4_per_eni - 1) + 2


def _reserved_cpu_m(total_m: int) -> int:
    reserved, start = 0, 0
    for end, basis_points in _CPU_RANGES:
        top = total_m if end is None else min(total_m, end)
        if total_m > start:
            reserved += (top - start) * basis_points // 10000
        if end is None or total_m <= end:
            break
        start = end
    return reserved


def allocatable(t: InstanceType) -> Allocatable:
    total_m = t.vcpu * 1000
    pods = max_pods(t)
    cpu = _reserved_cpu_m(total_m)
    memory = 11 * pods + 255
    return Allocatable(
        cpu_m=total_m - cpu,
        memory_mib=int(t.memory_gib * 1024) - memory - _EVICTION_MEMORY_MIB,
        gpus=t.gpus,
        pods=pods,
        reserved_cpu_m=cpu,
        reserved_memory_mib=memory,
    )
