"""Cluster: EKS with CPU and GPU managed node groups, or an existing kubeconfig context."""

from __future__ import annotations

import pulumi

from components.cluster import CPU_AMI_TYPE, GPU_AMI_TYPE, Cluster, ClusterArgs
from runtime.spec import load_stack
from runtime.wiring import GPU_NODE_LABEL
from tests.components.renders import stack_renders

PROD = load_stack("prod").platform
LOCAL = load_stack("local").platform


def _cluster(name: str, platform, **changes) -> Cluster:
    spec = platform.cluster.model_copy(update=changes) if changes else platform.cluster
    return Cluster(
        name,
        ClusterArgs(
            cluster=spec, versions=platform.versions, namespace=platform.namespace, cluster_name=f"ml-serving-{name}"
        ),
    )


@pulumi.runtime.test
def test_gpu_node_group_has_the_nvidia_ami_taint_and_label_and_scales_from_zero():
    cluster = _cluster("gpu", PROD)
    group = cluster.gpu_node_group

    def check(args):
        urn, ami, taints, labels, scaling = args
        assert ami == GPU_AMI_TYPE, urn
        assert taints == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}], urn
        assert labels[GPU_NODE_LABEL[0]] == GPU_NODE_LABEL[1], urn
        assert scaling["min_size"] == 0 and scaling["max_size"] == PROD.cluster.gpu_nodes.max, urn

    return pulumi.Output.all(group.urn, group.ami_type, group.taints, group.labels, group.scaling_config).apply(check)


@pulumi.runtime.test
def test_cpu_node_group_is_untainted_and_sized_by_the_spec():
    cluster = _cluster("cpu", PROD)
    group = cluster.cpu_node_group

    def check(args):
        urn, ami, taints, types, scaling = args
        assert ami == CPU_AMI_TYPE and not taints, urn
        assert types == PROD.cluster.cpu_nodes.instance_types, urn
        assert (scaling["min_size"], scaling["max_size"]) == (PROD.cluster.cpu_nodes.min, PROD.cluster.cpu_nodes.max), (
            urn
        )

    return pulumi.Output.all(group.urn, group.ami_type, group.taints, group.instance_types, group.scaling_config).apply(
        check
    )


@pulumi.runtime.test
def test_eks_exposes_irsa_and_a_provider_from_its_kubeconfig():
    cluster = _cluster("eks", PROD)
    assert cluster.is_eks and cluster.namespace_name == PROD.namespace
    assert cluster.eks_outputs is not None, "an EKS cluster hands out its OIDC provider, VPC and security groups"

    def check(args):
        urn, arn, url, kubeconfig, labels = args
        assert arn.startswith("arn:aws:iam::") and "oidc-provider" in arn, urn
        assert url.startswith("oidc.eks."), urn
        assert '"kind": "Config"' in kubeconfig, urn
        assert labels == {"istio-injection": "enabled"}, urn

    return pulumi.Output.all(
        cluster.urn,
        cluster.eks_outputs.oidc_provider_arn,
        cluster.eks_outputs.oidc_provider_url,
        cluster.kubeconfig,
        cluster.namespace.metadata["labels"],
    ).apply(check)


@pulumi.runtime.test
def test_existing_cluster_uses_the_kubeconfig_context_and_no_aws():
    cluster = _cluster("existing", LOCAL)
    assert not cluster.is_eks
    assert cluster.eks_outputs is None and cluster.kubeconfig is None
    return pulumi.Output.all(cluster.urn, cluster.namespace.metadata["name"]).apply(
        lambda args: _assert(args[1] == LOCAL.namespace, args[0])
    )


def _assert(condition: bool, urn: str) -> None:
    assert condition, urn


def test_existing_provider_renders_no_aws_resources():
    types = {r["type"] for r in stack_renders()["local"]["resources"]}
    assert not {t for t in types if t.split(":")[0] in {"aws", "eks", "awsx"}}, types


def test_prod_render_has_eks_limited_public_endpoint_device_plugin_and_autoscaler():
    resources = stack_renders()["prod"]["resources"]
    eks = next(r for r in resources if r["type"] == "eks:index:Cluster")
    # The program creates the VPC, so the first run reaches the API publicly, from the runners only.
    assert eks["inputs"]["endpointPrivateAccess"] is True and eks["inputs"]["endpointPublicAccess"] is True, eks["urn"]
    assert eks["inputs"]["publicAccessCidrs"] == list(PROD.cluster.public_access_cidrs) != [], eks["urn"]
    assert eks["inputs"]["createOidcProvider"] is True and eks["inputs"]["skipDefaultNodeGroup"] is True, eks["urn"]
    releases = {r["inputs"]["name"]: r for r in resources if r["type"] == "kubernetes:helm.sh/v3:Release"}
    assert releases["nvidia-device-plugin"]["inputs"]["version"] == PROD.versions.nvidia_device_plugin
    autoscaler = releases["cluster-autoscaler"]
    assert autoscaler["inputs"]["version"] == PROD.versions.cluster_autoscaler, autoscaler["urn"]
    account = autoscaler["inputs"]["values"]["rbac"]["serviceAccount"]
    role = next(r for r in resources if r["type"] == "aws:iam/role:Role" and r["name"] == "cluster-autoscaler-role")
    assert account["annotations"]["eks.amazonaws.com/role-arn"].endswith("role/cluster-autoscaler-role"), autoscaler[
        "urn"
    ]
    assert "system:serviceaccount:kube-system:cluster-autoscaler" in role["inputs"]["assumeRolePolicy"], role["urn"]


def test_dev_renders_the_smaller_cluster_it_asks_for():
    resources = stack_renders()["dev"]["resources"]
    groups = [r for r in resources if r["type"] == "aws:eks/nodeGroup:NodeGroup"]
    assert [g["inputs"]["amiType"] for g in groups] == [CPU_AMI_TYPE], [g["urn"] for g in groups]
    assert not any(
        r["type"] == "kubernetes:helm.sh/v3:Release" and r["inputs"]["name"] == "nvidia-device-plugin"
        for r in resources
    )
    vpc = next(r for r in resources if r["type"] == "awsx:ec2:Vpc")
    assert vpc["inputs"]["numberOfAvailabilityZones"] == 2, vpc["urn"]


def test_the_workflows_roles_get_access_entries_on_every_cloud_stack():
    # authenticationMode API admits only principals with an access entry: without them the
    # deploy and preview roles never reach the Kubernetes API (and previews skip their dry runs).
    for stack in ("dev", "staging", "prod"):
        (eks,) = [r for r in stack_renders()[stack]["resources"] if r["type"] == "eks:index:Cluster"]
        assert eks["inputs"]["authenticationMode"] == "API", eks["urn"]
        entries = eks["inputs"]["accessEntries"]
        assert set(entries) == {f"ml-serving-{stack}-deploy", f"ml-serving-{stack}-preview"}, eks["urn"]
        for name, entry in entries.items():
            assert entry["principalArn"].endswith(f":role/{name}"), eks["urn"]
            (policy,) = entry["accessPolicies"].values()
            assert policy == {
                "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                "accessScope": {"type": "cluster"},
            }, eks["urn"]


def test_everything_in_an_eks_cluster_waits_for_the_node_groups():
    """The provider waits for the node groups, so every release does too (Helm's waits need nodes)."""
    resources = stack_renders()["prod"]["resources"]
    groups = {r["urn"] for r in resources if r["type"] == "aws:eks/nodeGroup:NodeGroup"}
    provider = next(r for r in resources if r["type"] == "pulumi:providers:kubernetes")
    assert groups and groups <= set(provider["dependencies"]), provider["urn"]
    in_cluster = [r for r in resources if r["type"].startswith("kubernetes:")]
    assert in_cluster and all(r["provider"] == provider["urn"] for r in in_cluster), [
        r["urn"] for r in in_cluster if r["provider"] != provider["urn"]
    ]


def test_created_subnets_carry_the_load_balancer_discovery_tags():
    vpc = next(r for r in stack_renders()["prod"]["resources"] if r["type"] == "awsx:ec2:Vpc")
    tags = {spec["type"]: spec["tags"] for spec in vpc["inputs"]["subnetSpecs"]}
    assert tags == {"Public": {"kubernetes.io/role/elb": "1"}, "Private": {"kubernetes.io/role/internal-elb": "1"}}, (
        vpc["urn"]
    )


@pulumi.runtime.test
def test_existing_subnets_are_tagged_for_load_balancer_discovery():
    from tests.components.recorded import MONITOR

    vpc = PROD.cluster.vpc.model_copy(update={"private_subnet_ids": ["subnet-a"], "public_subnet_ids": ["subnet-b"]})
    cluster = _cluster("byo", PROD, vpc=vpc)

    def check(urn):
        tags = {r.name: r.inputs for r in MONITOR.registrations if r.type == "aws:ec2/tag:Tag" and r.parent == urn}
        assert tags["byo-subnet-a-elb"] == {
            "resourceId": "subnet-a",
            "key": "kubernetes.io/role/internal-elb",
            "value": "1",
        }, urn
        assert tags["byo-subnet-b-elb"] == {"resourceId": "subnet-b", "key": "kubernetes.io/role/elb", "value": "1"}, (
            urn
        )

    # The provider registers after every AWS resource of the cluster.
    return pulumi.Output.all(cluster.urn, cluster.provider.urn).apply(lambda args: check(args[0]))
