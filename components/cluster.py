"""The Kubernetes cluster: EKS with CPU and GPU node groups, or an existing kubeconfig context.

Everything downstream deploys through ``Cluster.provider`` into ``Cluster.namespace``, so the
rest of the program does not care which realization it got.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components import cluster_addons as addons
from components.cluster_access import access_entries
from runtime.spec import ClusterSpec, NodeGroupSpec, VersionsSpec
from runtime.wiring import GPU_NODE_LABEL, GPU_TAINT

__all__ = ["Cluster", "ClusterArgs", "EksOutputs", "CPU_AMI_TYPE", "GPU_AMI_TYPE", "ELB_SUBNET_TAGS"]

CPU_AMI_TYPE = "AL2023_x86_64_STANDARD"
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
_NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
ELB_SUBNET_TAGS = {"public": ("kubernetes.io/role/elb", "1"), "private": ("kubernetes.io/role/internal-elb", "1")}
"""The tags the AWS Load Balancer Controller discovers subnets by (internet-facing, internal)."""


@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    cluster: ClusterSpec
    """The validated ``platform.cluster`` of the stack."""
    versions: VersionsSpec
    """Pinned chart versions (NVIDIA device plugin, cluster-autoscaler)."""
    namespace: str
    """Namespace the platform's workloads run in (created here, with Istio sidecar injection)."""
    cluster_name: str
    """Physical name of the EKS cluster (also what the autoscaler discovers node groups by)."""


@dataclass(frozen=True)
class EksOutputs:
    """What an EKS cluster hands the AWS resources created beside it (IRSA roles, RDS)."""

    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[Sequence[str]]
    node_security_group_id: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    """The EKS-managed security group that managed nodes (and so every pod) carry."""


class Cluster(pulumi.ComponentResource):
    provider: k8s.Provider
    """Kubernetes provider every in-cluster resource is created with."""
    namespace: k8s.core.v1.Namespace
    namespace_name: str
    is_eks: bool
    eks_outputs: EksOutputs | None
    """IRSA's OIDC provider, the VPC and the security groups of an EKS cluster (None on an existing cluster)."""
    kubeconfig: pulumi.Output[str] | None
    node_groups: list[aws.eks.NodeGroup]
    storage_class: k8s.storage.v1.StorageClass | None
    """The default class volume claims bind with (None on an existing cluster: its own default)."""
    load_balancer_controller: k8s.helm.v3.Release | None
    """Gives LoadBalancer Services their NLB; a Service of that kind is created after it."""

    @property
    def storage_class_name(self) -> str | None:
        return addons.STORAGE_CLASS if self.storage_class is not None else None

    @property
    def storage_ready(self) -> list[pulumi.Resource]:
        """What a workload that claims a volume depends on."""
        return [self.storage_class] if self.storage_class is not None else []

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:Cluster", name, None, opts)
        spec = args.cluster
        self.is_eks = spec.provider == "eks"
        self.namespace_name = args.namespace
        self.eks_outputs, self.kubeconfig = None, None
        self.node_groups, self.storage_class, self.load_balancer_controller = [], None, None
        if self.is_eks:
            self.eks_outputs = self._eks(name, args)
            # Everything in the cluster goes through this provider, so everything waits for the
            # node groups: Helm's waits would otherwise race the nodes on the first run.
            self.provider = k8s.Provider(
                f"{name}-k8s",
                kubeconfig=self.kubeconfig,
                opts=pulumi.ResourceOptions(parent=self, depends_on=self.node_groups),
            )
        else:
            # context=None means the current context of the user's kubeconfig.
            self.provider = k8s.Provider(
                f"{name}-k8s", context=spec.kubeconfig_context, opts=pulumi.ResourceOptions(parent=self)
            )
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": {"istio-injection": "enabled"}},
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )
        if self.eks_outputs is not None:
            self._node_addons(name, args, self.eks_outputs)
        self.register_outputs(
            {
                "namespace": self.namespace.metadata["name"],
                "kubeconfig": self.kubeconfig,
                "oidcProviderArn": self.eks_outputs.oidc_provider_arn if self.eks_outputs else None,
                "vpcId": self.eks_outputs.vpc_id if self.eks_outputs else None,
            }
        )

    # --- EKS ------------------------------------------------------------------------------------

    def _eks(self, name: str, args: ClusterArgs) -> EksOutputs:
        spec = args.cluster
        if spec.cpu_nodes is None:
            raise ValueError("platform.cluster.cpuNodes: an EKS cluster needs its CPU node group")
        child = pulumi.ResourceOptions(parent=self)
        private: pulumi.Output[Sequence[str]]
        public: pulumi.Output[Sequence[str]]
        if spec.vpc.private_subnet_ids:
            private = pulumi.Output.from_input(list(spec.vpc.private_subnet_ids))
            public = pulumi.Output.from_input(list(spec.vpc.public_subnet_ids))
            vpc_id = aws.ec2.get_subnet_output(id=spec.vpc.private_subnet_ids[0]).vpc_id
            for role, ids in (("public", spec.vpc.public_subnet_ids), ("private", spec.vpc.private_subnet_ids)):
                key, value = ELB_SUBNET_TAGS[role]
                for subnet in ids:
                    aws.ec2.Tag(f"{name}-{subnet}-elb", resource_id=subnet, key=key, value=value, opts=child)
        else:
            vpc = awsx.ec2.Vpc(
                f"{name}-vpc",
                cidr_block=spec.vpc.cidr_block,
                number_of_availability_zones=spec.vpc.availability_zones,
                enable_dns_hostnames=True,
                # One NAT per zone: a zone outage must not cut the other zones' nodes off ECR.
                nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(strategy=awsx.ec2.NatGatewayStrategy.ONE_PER_AZ),
                subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
                subnet_specs=[
                    awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, tags=dict([ELB_SUBNET_TAGS["public"]])),
                    awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE, tags=dict([ELB_SUBNET_TAGS["private"]])),
                ],
                tags={"ml-serving.io/cluster": args.cluster_name},
                opts=child,
            )
            private, public, vpc_id = vpc.private_subnet_ids, vpc.public_subnet_ids, vpc.vpc_id
        cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=spec.kubernetes_version,
            vpc_id=vpc_id,
            private_subnet_ids=private,
            public_subnet_ids=public,
            endpoint_private_access=spec.endpoint_private_access,
            endpoint_public_access=spec.endpoint_public_access,
            public_access_cidrs=list(spec.public_access_cidrs) or None,
            # Node groups are declared below, each with its own AMI type, labels and taints.
            skip_default_node_group=True,
            create_oidc_provider=True,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries(spec.access),
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            opts=child,
        )
        self.eks = cluster
        self.kubeconfig = cluster.kubeconfig_json
        outputs = EksOutputs(
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_provider_url=cluster.oidc_provider_url,
            vpc_id=pulumi.Output.from_input(vpc_id),
            private_subnet_ids=private,
            node_security_group_id=cluster.node_security_group_id,
            # Managed node groups without a launch template get the security group EKS creates, not
            # the one pulumi-eks makes for self-managed nodes; read it back from EKS.
            cluster_security_group_id=aws.eks.get_cluster_output(
                name=args.cluster_name, opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[cluster])
            ).vpc_config.cluster_security_group_id,
        )

        node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                },
                sort_keys=True,
            ),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=node_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
            for policy in _NODE_POLICIES
        ]
        group_opts = pulumi.ResourceOptions(
            parent=self,
            depends_on=[cluster, *attachments],
            # The node autoscaler owns the live size; Pulumi only sets the bounds.
            ignore_changes=["scalingConfig.desiredSize"],
        )
        self.cpu_node_group = self._node_group(
            f"{name}-cpu", args, spec.cpu_nodes, node_role, private, group_opts, gpu=False
        )
        self.gpu_node_group = None
        if spec.gpu_nodes is not None:
            self.gpu_node_group = self._node_group(
                f"{name}-gpu", args, spec.gpu_nodes, node_role, private, group_opts, gpu=True
            )
        self.node_groups = [g for g in (self.cpu_node_group, self.gpu_node_group) if g is not None]
        return outputs

    def _node_group(
        self,
        name: str,
        args: ClusterArgs,
        group: NodeGroupSpec,
        role: aws.iam.Role,
        subnets: pulumi.Input[Sequence[str]],
        opts: pulumi.ResourceOptions,
        *,
        gpu: bool,
    ) -> aws.eks.NodeGroup:
        labels = {"ml-serving.io/node-group": "gpu" if gpu else "cpu"}
        taints = []
        if gpu:
            labels[GPU_NODE_LABEL[0]] = GPU_NODE_LABEL[1]
            key, value, _ = GPU_TAINT
            # Only pods that tolerate the taint (GPU predictors, the device plugin) land here.
            taints.append({"key": key, "value": value, "effect": "NO_SCHEDULE"})
        return aws.eks.NodeGroup(
            name,
            cluster_name=args.cluster_name,
            node_role_arn=role.arn,
            subnet_ids=subnets,
            ami_type=GPU_AMI_TYPE if gpu else CPU_AMI_TYPE,
            instance_types=list(group.instance_types),
            disk_size=group.disk_size_gb,
            capacity_type=group.capacity_type,
            scaling_config={"min_size": group.min, "max_size": group.max, "desired_size": group.min},
            labels=labels,
            taints=taints,
            update_config={"max_unavailable": 1},
            tags={
                "k8s.io/cluster-autoscaler/enabled": "true",
                f"k8s.io/cluster-autoscaler/{args.cluster_name}": "owned",
            },
            opts=opts,
        )

    # --- in-cluster add-ons of an EKS cluster -----------------------------------------------------

    def _node_addons(self, name: str, args: ClusterArgs, outputs: EksOutputs) -> None:
        spec, versions = args.cluster, args.versions
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=self.provider)
        oidc = (outputs.oidc_provider_arn, outputs.oidc_provider_url)
        if spec.gpu_nodes is not None:
            # The NVIDIA AMI ships the driver and container toolkit, not the device plugin that
            # advertises nvidia.com/gpu to the scheduler.
            addons.device_plugin(f"{name}-nvidia-device-plugin", versions.nvidia_device_plugin, k8s_opts)
        addons.cluster_autoscaler(
            f"{name}-cluster-autoscaler",
            version=versions.cluster_autoscaler,
            kubernetes_version=spec.kubernetes_version,
            cluster_name=args.cluster_name,
            role_name=f"{name}-autoscaler-role",
            oidc=oidc,
            parent=self,
            opts=k8s_opts,
        )
        self.load_balancer_controller = addons.load_balancer_controller(
            f"{name}-lb-controller",
            version=versions.aws_load_balancer_controller,
            cluster_name=args.cluster_name,
            vpc_id=outputs.vpc_id,
            oidc=oidc,
            parent=self,
            opts=k8s_opts,
        )
        self.storage_class = addons.ebs_storage(
            f"{name}-ebs",
            cluster_name=args.cluster_name,
            kubernetes_version=spec.kubernetes_version,
            oidc=oidc,
            parent=self,
            depends_on=self.node_groups,
            provider=self.provider,
        )
