"""platform.cluster: what the Cluster component builds is all the spec admits."""

from __future__ import annotations

import pytest

from runtime.spec import CLUSTER_AUTOSCALER_IMAGES, validate_config
from tests.runtime.spec.configs import problems_of, stack_config


def test_karpenter_is_refused_naming_the_key_and_the_built_autoscaler():
    config = stack_config("prod")
    config["ml-serving:platform"]["cluster"]["nodeAutoscaler"] = "karpenter"
    assert problems_of(config) == [
        "stacks/Pulumi.prod.yaml: ml-serving:platform.cluster.nodeAutoscaler: "
        "input should be 'cluster-autoscaler' (got 'karpenter')"
    ]


def test_versions_carry_no_karpenter_pin():
    config = stack_config("prod")
    config["ml-serving:platform"].setdefault("versions", {})["karpenter"] = "1.8.2"
    assert problems_of(config) == [
        "stacks/Pulumi.prod.yaml: ml-serving:platform.versions.karpenter: "
        "unknown key (check the spelling; keys are camelCase)"
    ]


@pytest.mark.parametrize("version", ["1.29", "1.35.1"])
def test_an_eks_minor_without_a_pinned_autoscaler_is_refused_with_the_pinned_ones(version):
    config = stack_config("prod")
    config["ml-serving:platform"]["cluster"]["kubernetesVersion"] = version
    assert problems_of(config) == [
        "stacks/Pulumi.prod.yaml: ml-serving:platform.cluster.kubernetesVersion: "
        f"no cluster-autoscaler release is pinned for Kubernetes '{version}'; "
        f"expected one of {', '.join(CLUSTER_AUTOSCALER_IMAGES)}"
    ]


def test_every_pinned_minor_and_its_patch_releases_validate_on_eks():
    for minor in CLUSTER_AUTOSCALER_IMAGES:
        for version in (minor, f"{minor}.4"):
            config = stack_config("prod")
            config["ml-serving:platform"]["cluster"]["kubernetesVersion"] = version
            assert validate_config(config, "prod").platform.cluster.kubernetes_version == version


def test_an_existing_cluster_installs_no_autoscaler_so_any_minor_validates():
    config = stack_config("local")
    config["ml-serving:platform"]["cluster"]["kubernetesVersion"] = "1.29"
    assert validate_config(config, "local").platform.cluster.kubernetes_version == "1.29"
