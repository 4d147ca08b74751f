"""EC2 instance sizes and what an EKS node keeps for itself (a pinned table, not a lookup).

Sizes: vCPUs and memory from EC2's instance type specifications; ENIs and IPv4 addresses per ENI
from awslabs/amazon-eks-ami ``nodeadm/internal/kubelet/instance-info.jsonl`` (at 81fec2e). The
reservation is the AMI's own formula (``nodeadm/internal/kubelet/config.go`` and
``eni_max_pods.go``): max pods = ENIs x (IPs per ENI - 1) + 2; kube-reserved memory =
11 MiB x max pods + 255 MiB; kube-reserved CPU = 6% of the first core, 1% of the second, 0.5% of
the third and fourth, 0.25% of the rest; eviction threshold ``memory.available`` 100 MiB.
Memory is EC2's nominal size: the kernel keeps a little more, so the check errs on the kind side.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InstanceType", "INSTANCE_TYPES", "NODE_DAEMONS", "allocatable"]


@dataclass(frozen=True)
class InstanceType:
    vcpus: int
    memory_mib: int
    enis: int
    ips_per_eni: int
    gpus: int = 0

    @property
    def max_pods(self) -> int:
        return self.enis * (self.ips_per_eni - 1) + 2


INSTANCE_TYPES: dict[str, InstanceType] = {
    "m6i.large": InstanceType(2, 8192, 3, 10),
    "m6i.xlarge": InstanceType(4, 16384, 4, 15),
    "m6i.2xlarge": InstanceType(8, 32768, 4, 15),
    "m6i.4xlarge": InstanceType(16, 65536, 8, 30),
    "m6a.xlarge": InstanceType(4, 16384, 4, 15),
    "m6a.2xlarge": InstanceType(8, 32768, 4, 15),
    "c6i.xlarge": InstanceType(4, 8192, 4, 15),
    "g5.xlarge": InstanceType(4, 16384, 4, 15, gpus=1),
    "g5.2xlarge": InstanceType(8, 32768, 4, 15, gpus=1),
    "g5.4xlarge": InstanceType(16, 65536, 8, 30, gpus=1),
    "g6.2xlarge": InstanceType(8, 32768, 4, 15, gpus=1),
}

NODE_DAEMONS: dict[str, tuple[int, int]] = {
    "kube-proxy (EKS add-on)": (100, 0),
    "aws-node (VPC CNI add-on)": (25, 0),
    "ebs-csi-node (aws-ebs-csi-driver 2.64 node.resources)": (10, 40),
}
"""DaemonSets on every EKS node of this stack: (CPU millicores, memory MiB) requested."""


def _cpu_reserved_millicores(vcpus: int) -> int:
    total = vcpus * 1000
    bounds, per_ten_thousand = [0, 1000, 2000, 4000, total], [600, 100, 50, 25]
    reserved = 0
    for i, share in enumerate(per_ten_thousand):
        start, end = bounds[i], bounds[i + 1]
        if total > start:
            reserved += (min(total, end) - start) * share // 10000
    return reserved


def allocatable(instance: InstanceType) -> tuple[int, int]:
    """(CPU millicores, memory MiB) a pod may request on one node, after the node's own daemons."""
    cpu = instance.vcpus * 1000 - _cpu_reserved_millicores(instance.vcpus)
    memory = instance.memory_mib - (11 * instance.max_pods + 255) - 100
    daemons_cpu = sum(c for c, _ in NODE_DAEMONS.values())
    daemons_memory = sum(m for _, m in NODE_DAEMONS.values())
    return cpu - daemons_cpu, memory - daemons_memory
