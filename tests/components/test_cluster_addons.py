"""What an EKS cluster gets before the platform: device plugin, autoscaler, LB controller, EBS storage."""

from __future__ import annotations

import json

from runtime.spec import CLUSTER_AUTOSCALER_IMAGES, load_stack
from tests.components.renders import stack_renders


def _by_name(stack: str) -> dict[str, dict]:
    return {r["name"]: r for r in stack_renders()[stack]["resources"]}


def test_the_autoscaler_image_matches_the_clusters_kubernetes_minor():
    for stack in ("dev", "staging", "prod"):
        version = load_stack(stack).platform.cluster.kubernetes_version
        release = _by_name(stack)["cluster-cluster-autoscaler"]
        tag = release["inputs"]["values"]["image"]["tag"]
        assert tag.startswith(f"v{version}.") and tag == CLUSTER_AUTOSCALER_IMAGES[version], release["urn"]


def test_the_load_balancer_controller_runs_under_its_own_role_for_its_cluster():
    resources = _by_name("prod")
    release = resources["cluster-lb-controller"]
    values = release["inputs"]["values"]
    assert values["clusterName"] == "ml-serving-prod" and values["vpcId"] == "vpc-cluster-vpc", release["urn"]
    role = resources["cluster-lb-controller-role"]
    assert values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        "role/cluster-lb-controller-role"
    )
    assert "system:serviceaccount:kube-system:aws-load-balancer-controller" in role["inputs"]["assumeRolePolicy"], role[
        "urn"
    ]
    policy = json.loads(resources["cluster-lb-controller-role-policy"]["inputs"]["policy"])
    deletes = [s for s in policy["Statement"] if "elasticloadbalancing:DeleteLoadBalancer" in s["Action"]]
    # It may delete only what it tagged as its own.
    assert deletes and all(
        s["Condition"] == {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}} for s in deletes
    )


def test_ebs_volumes_come_from_the_csi_add_on_after_the_nodes_as_encrypted_gp3_by_default():
    resources = _by_name("prod")
    addon = resources["cluster-ebs-addon"]
    assert addon["inputs"]["addonName"] == "aws-ebs-csi-driver", addon["urn"]
    assert addon["inputs"]["serviceAccountRoleArn"].endswith("role/cluster-ebs-role"), addon["urn"]
    assert {resources["cluster-cpu"]["urn"], resources["cluster-gpu"]["urn"]} <= set(addon["dependencies"]), addon[
        "urn"
    ]
    attachment = resources["cluster-ebs-policy"]["inputs"]
    assert attachment["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    storage_class = resources["cluster-ebs-class"]["inputs"]
    assert storage_class["provisioner"] == "ebs.csi.aws.com" and storage_class["parameters"] == {
        "type": "gp3",
        "encrypted": "true",
    }
    assert storage_class["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"


def test_the_device_plugin_schedules_on_the_gpu_groups_label():
    release = _by_name("prod")["cluster-nvidia-device-plugin"]
    terms = release["inputs"]["values"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    labels = _by_name("prod")["cluster-gpu"]["inputs"]["labels"]
    assert terms == [
        {"matchExpressions": [{"key": k, "operator": "In", "values": [v]}]}
        for k, v in labels.items()
        if k == "ml-serving.io/accelerator"
    ]
