"""scheduling: fit on the first instance type, minimums within maximums, a device plugin on GPU nodes."""

from __future__ import annotations

import pytest

from components.deployability.capacity import schedulable
from tests.components.deployability.helpers import findings, only, release_values, render_of, resource

_GROUP = "aws:eks/nodeGroup:NodeGroup"
_ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"


def test_a_node_leaves_the_stack_its_allocatable_less_the_node_daemonsets():
    # m6i.xlarge allocates 3920m and 15391Mi (the EKS AMI's reservation); kube-proxy, aws-node and
    # ebs-csi-node take 135m and 40Mi of it.
    node = schedulable("m6i.xlarge")
    assert (node.cpu_m, node.memory_mib, node.gpus, node.pods) == (3785, 15351, 0, 55)


def test_a_gpu_pod_larger_than_the_groups_first_instance_type_is_named():
    document = render_of("prod")
    resource(document, _GROUP, "cluster-gpu")["inputs"]["instanceTypes"] = ["g5.xlarge", "g5.2xlarge"]
    found = findings(document, "scheduling")
    assert {f.resource.split(" (")[0] for f in found} == {
        "InferenceService ml-serving/vision-champion",
        "InferenceService ml-serving/vision-v9",
    }
    message = found[0].message
    assert "requests 4100m CPU, 16512Mi, 1 GPU per pod (the Istio sidecar included)" in message, message
    assert (
        "g5.xlarge offers 3785m CPU, 15351Mi, 1 GPU" in message
        and "sizes a group by its first instance type" in message
    )


def test_minimum_replicas_beyond_the_groups_maximum_are_named():
    document = render_of("prod")
    resource(document, _GROUP, "cluster-cpu")["inputs"]["instanceTypes"] = ["m6i.xlarge", "m6a.xlarge"]
    finding = only(document, "scheduling")
    assert finding.resource.startswith("node group cluster-cpu"), finding
    assert "need at least 15 m6i.xlarge nodes, but the group's max is 10" in finding.message, finding


def test_the_device_plugin_with_its_chart_default_affinity_leaves_gpu_pods_pending():
    document = render_of("prod")
    release_values(document, "cluster-nvidia-device-plugin").pop("affinity")  # back to the NFD-label affinity
    found = findings(document, "scheduling")
    assert len(found) == 2 and all(
        "no NVIDIA device plugin pod schedules on cluster-gpu" in f.message for f in found
    ), found


def test_without_a_device_plugin_release_gpu_pods_are_named():
    document = render_of("prod")
    document["resources"] = [r for r in document["resources"] if r["name"] != "cluster-nvidia-device-plugin"]
    assert len(findings(document, "scheduling")) == 2


def test_a_pod_no_group_admits_is_named():
    document = render_of("prod")
    isvc = resource(document, _ISVC, "rollout-vision-champion-isvc")
    isvc["inputs"]["spec"]["predictor"]["tolerations"] = []  # the GPU group's taint is no longer tolerated
    finding = only(document, "scheduling")
    assert "vision-champion" in finding.resource and "no node group's labels and taints admit it" in finding.message


@pytest.mark.parametrize("stack", ["local"])
def test_an_existing_cluster_is_not_sized(stack):
    assert findings(render_of(stack), "scheduling") == []
