"""What an EKS cluster needs before the platform can run on it.

- the NVIDIA device plugin, so GPU nodes advertise ``nvidia.com/gpu``;
- cluster-autoscaler, its image matching the cluster's Kubernetes minor;
- the AWS Load Balancer Controller, which gives ``aws-load-balancer-type: external`` Services
  (the ingress gateway) their NLB: the in-tree cloud provider leaves those alone;
- the EBS CSI driver (EKS add-on) and an encrypted gp3 default StorageClass: EKS 1.30+ has no
  default class, so without them every volume claim stays Pending.

Each runs under its own IRSA role; each is created after the node groups it schedules on.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.addon_policies import autoscaler_policy, load_balancer_policy
from components.irsa import ROLE_ARN_ANNOTATION, irsa_role, trust_policy
from runtime.spec import CLUSTER_AUTOSCALER_IMAGES
from runtime.wiring import GPU_NODE_LABEL, GPU_TAINT

__all__ = [
    "STORAGE_CLASS",
    "EBS_PROVISIONER",
    "LOAD_BALANCER_CONTROLLER",
    "autoscaler_image_tag",
    "device_plugin",
    "cluster_autoscaler",
    "load_balancer_controller",
    "ebs_storage",
]

STORAGE_CLASS = "gp3"
"""The default StorageClass on EKS: encrypted gp3 volumes from the EBS CSI driver."""
EBS_PROVISIONER = "ebs.csi.aws.com"
LOAD_BALANCER_CONTROLLER = "aws-load-balancer-controller"
KUBE_SYSTEM = "kube-system"
_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
_EBS_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
_EBS_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def autoscaler_image_tag(kubernetes_version: str) -> str:
    """The cluster-autoscaler release of the cluster's minor (the spec admits pinned minors only)."""
    return CLUSTER_AUTOSCALER_IMAGES[".".join(kubernetes_version.split(".")[:2])]


def _release(
    name: str, chart: str, version: str, repo: str, opts: pulumi.ResourceOptions, values: dict
) -> k8s.helm.v3.Release:
    """A pinned chart installed into kube-system under its own name."""
    return k8s.helm.v3.Release(
        name,
        name=chart,
        chart=chart,
        version=version,
        repository_opts={"repo": repo},
        namespace=KUBE_SYSTEM,
        values=values,
        opts=opts,
    )


def _kube_system_role(
    name: str,
    service_account: str,
    policy: dict,
    oidc: tuple[pulumi.Input[str], pulumi.Input[str]],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    return irsa_role(
        name,
        oidc_provider_arn=oidc[0],
        oidc_provider_url=oidc[1],
        namespace=KUBE_SYSTEM,
        service_account=service_account,
        policy=json.dumps(policy, sort_keys=True),
        parent=parent,
    )


def device_plugin(name: str, version: str, opts: pulumi.ResourceOptions) -> k8s.helm.v3.Release:
    key, _, _ = GPU_TAINT
    # The chart's default affinity asks for NFD labels or nvidia.com/gpu.present=true, which the
    # GPU node group does not carry: replace it with the label the group does carry.
    gpu_nodes = {"matchExpressions": [{"key": GPU_NODE_LABEL[0], "operator": "In", "values": [GPU_NODE_LABEL[1]]}]}
    return _release(
        name,
        "nvidia-device-plugin",
        version,
        "https://nvidia.github.io/k8s-device-plugin",
        opts,
        {
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [gpu_nodes]}}
            },
            "tolerations": [{"key": key, "operator": "Exists", "effect": "NoSchedule"}],
        },
    )


def cluster_autoscaler(
    name: str,
    *,
    version: str,
    kubernetes_version: str,
    cluster_name: str,
    role_name: str,
    oidc: tuple[pulumi.Input[str], pulumi.Input[str]],
    parent: pulumi.Resource,
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=parent)).region
    role = _kube_system_role(role_name, _AUTOSCALER_SERVICE_ACCOUNT, autoscaler_policy(cluster_name), oidc, parent)
    return _release(
        name,
        "cluster-autoscaler",
        version,
        "https://kubernetes.github.io/autoscaler",
        opts,
        {
            "cloudProvider": "aws",
            "awsRegion": region,
            "autoDiscovery": {"clusterName": cluster_name},
            "image": {"tag": autoscaler_image_tag(kubernetes_version)},
            "rbac": {
                "serviceAccount": {
                    "create": True,
                    "name": _AUTOSCALER_SERVICE_ACCOUNT,
                    "annotations": {ROLE_ARN_ANNOTATION: role.arn},
                }
            },
            "extraArgs": {
                "balance-similar-node-groups": True,
                # Idle GPU nodes are expensive: give them back soon after their pods leave.
                "scale-down-unneeded-time": "5m",
                "skip-nodes-with-local-storage": False,
                "expander": "least-waste",
            },
        },
    )


def load_balancer_controller(
    name: str,
    *,
    version: str,
    cluster_name: str,
    vpc_id: pulumi.Input[str],
    oidc: tuple[pulumi.Input[str], pulumi.Input[str]],
    parent: pulumi.Resource,
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=parent)).region
    role = _kube_system_role(f"{name}-role", LOAD_BALANCER_CONTROLLER, load_balancer_policy(), oidc, parent)
    return _release(
        name,
        LOAD_BALANCER_CONTROLLER,
        version,
        "https://aws.github.io/eks-charts",
        opts,
        {
            "clusterName": cluster_name,
            # Given, not read from the instance metadata (which pods may not reach).
            "region": region,
            "vpcId": vpc_id,
            "serviceAccount": {
                "create": True,
                "name": LOAD_BALANCER_CONTROLLER,
                "annotations": {ROLE_ARN_ANNOTATION: role.arn},
            },
            # Only NLBs for Services: no ALB Ingress, so no IngressClass, WAF or Shield (and no
            # permissions for them in the role).
            "createIngressClassResource": False,
            "enableShield": False,
            "enableWaf": False,
            "enableWafv2": False,
        },
    )


def ebs_storage(
    name: str,
    *,
    cluster_name: str,
    kubernetes_version: str,
    oidc: tuple[pulumi.Input[str], pulumi.Input[str]],
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
    provider: k8s.Provider,
) -> k8s.storage.v1.StorageClass:
    """The EBS CSI driver add-on (IRSA, AWS's managed policy) and the default gp3 StorageClass."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=trust_policy(oidc[0], oidc[1], KUBE_SYSTEM, _EBS_SERVICE_ACCOUNT),
        description=f"IRSA role of {KUBE_SYSTEM}/{_EBS_SERVICE_ACCOUNT}",
        opts=child,
    )
    attachment = aws.iam.RolePolicyAttachment(f"{name}-policy", role=role.name, policy_arn=_EBS_POLICY, opts=child)
    # The version EKS marks default for this Kubernetes minor: it exists and is tested with it.
    addon_version = aws.eks.get_addon_version_output(
        addon_name="aws-ebs-csi-driver",
        kubernetes_version=kubernetes_version,
        most_recent=False,
        opts=pulumi.InvokeOutputOptions(parent=parent),
    ).version
    addon = aws.eks.Addon(
        f"{name}-addon",
        cluster_name=cluster_name,
        addon_name="aws-ebs-csi-driver",
        addon_version=addon_version,
        service_account_role_arn=role.arn,
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="PRESERVE",
        # Its controller pods need nodes to become ACTIVE.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*depends_on, attachment]),
    )
    return k8s.storage.v1.StorageClass(
        f"{name}-class",
        metadata={"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        provisioner=EBS_PROVISIONER,
        parameters={"type": "gp3", "encrypted": "true"},
        # Bind where the pod lands: an EBS volume lives in one zone.
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy="Delete",
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[addon]),
    )
