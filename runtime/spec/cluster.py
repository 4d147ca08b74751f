"""The Kubernetes cluster the platform runs on: EKS with its node groups, or an existing one."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from runtime.spec.common import Cidr, SpecModel, problem

CLUSTER_AUTOSCALER_IMAGES = {"1.32": "v1.32.5", "1.33": "v1.33.3", "1.34": "v1.34.2"}
"""cluster-autoscaler release per Kubernetes minor: upstream supports each minor with its own
release line only (the chart's default tag follows the newest minor), so an EKS cluster runs
one of these minors."""


class NodeGroupSpec(SpecModel):
    instance_types: Annotated[list[str], Field(min_length=1)]
    """EC2 instance types of the group."""
    min: Annotated[int, Field(ge=0)]
    max: Annotated[int, Field(ge=1)]
    disk_size_gb: Annotated[int, Field(ge=20)] = 50
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    """EC2 purchase option of the group's nodes (EKS managed node group ``capacityType``)."""

    @model_validator(mode="after")
    def _order(self) -> NodeGroupSpec:
        if self.min > self.max:
            raise problem("min", f"min ({self.min}) must not exceed max ({self.max})")
        return self


class VpcSpec(SpecModel):
    cidr_block: str = "10.0.0.0/16"
    """CIDR of the VPC created when no subnets are given."""
    private_subnet_ids: list[str] = []
    """Existing private subnets (nodes, RDS); when set, no VPC is created."""
    public_subnet_ids: list[str] = []
    """Existing public subnets (load balancers)."""
    availability_zones: Annotated[int, Field(ge=2, le=6)] = 3


class ClusterAccessSpec(SpecModel):
    """An IAM role let into the EKS cluster's Kubernetes API (an EKS access entry)."""

    principal_arn: Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")]
    """The role, e.g. the workflows' deploy and preview roles of this environment."""
    policy: Literal["admin", "edit", "view"] = "admin"
    """EKS access policy, cluster-wide: AmazonEKSClusterAdminPolicy, AmazonEKSEditPolicy or
    AmazonEKSViewPolicy. A preview's server-side dry runs need the same write rights as the
    update, so a preview role needs ``admin`` too (``view`` cannot preview a change)."""


class ClusterSpec(SpecModel):
    provider: Literal["eks", "existing"]
    """``eks`` creates an EKS cluster; ``existing`` targets the current kubeconfig context."""
    kubernetes_version: str = "1.32"
    """Kubernetes ``<major>.<minor>``; on ``eks`` a minor that cluster-autoscaler has a pinned release for."""
    kubeconfig_context: str | None = None
    """Context to use with ``provider: existing``; the current context when unset."""
    endpoint_private_access: bool = True
    endpoint_public_access: bool = True
    public_access_cidrs: list[Cidr] = []
    """Where the public API endpoint answers from (the deploy runners' egress); empty: anywhere."""
    runner_in_vpc: bool = False
    """``pulumi up`` runs inside the VPC of ``vpc.privateSubnetIds`` and reaches a private-only endpoint."""
    vpc: VpcSpec = VpcSpec()
    cpu_nodes: NodeGroupSpec | None = None
    gpu_nodes: NodeGroupSpec | None = None
    node_autoscaler: Literal["cluster-autoscaler"] = "cluster-autoscaler"
    """What adds and removes EKS nodes: cluster-autoscaler over the managed node groups, the one
    path that is built and checked (Karpenter would need its own controller, NodePools and IAM)."""
    access: tuple[ClusterAccessSpec, ...] = ()
    """Roles with access entries (``authenticationMode: API`` admits no one else, not even the
    creator after the bootstrap entry is gone)."""

    @model_validator(mode="after")
    def _eks_needs_nodes(self) -> ClusterSpec:
        if self.provider == "eks" and self.cpu_nodes is None:
            raise problem("cpuNodes", "provider 'eks' needs cpuNodes: {instanceTypes: [...], min: N, max: N}")
        minor = ".".join(self.kubernetes_version.split(".")[:2])
        if self.provider == "eks" and minor not in CLUSTER_AUTOSCALER_IMAGES:
            raise problem(
                "kubernetesVersion",
                f"no cluster-autoscaler release is pinned for Kubernetes {self.kubernetes_version!r}; "
                f"expected one of {', '.join(CLUSTER_AUTOSCALER_IMAGES)}",
            )
        if not (self.endpoint_private_access or self.endpoint_public_access):
            raise problem(
                "endpointPublicAccess", "at least one of endpointPrivateAccess and endpointPublicAccess must be true"
            )
        if self.provider == "eks" and self.runner_in_vpc and not self.vpc.private_subnet_ids:
            raise problem(
                "runnerInVpc",
                "runnerInVpc needs vpc.privateSubnetIds of the existing VPC the runner is in "
                "(a VPC this program creates has no runner inside it on the first run)",
            )
        if self.provider == "eks" and not self.endpoint_public_access and not self.runner_in_vpc:
            raise problem(
                "endpointPublicAccess",
                "a private-only API endpoint cannot be reached from where `pulumi up` runs; set "
                "endpointPublicAccess: true with publicAccessCidrs (the runners' egress CIDRs), or "
                "runnerInVpc: true with vpc.privateSubnetIds of the VPC the runner is in",
            )
        if self.public_access_cidrs and not self.endpoint_public_access:
            raise problem("publicAccessCidrs", "publicAccessCidrs needs endpointPublicAccess: true")
        return self
