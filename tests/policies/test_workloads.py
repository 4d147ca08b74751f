"""Pinned images, resource requests and limits, model lineage on InferenceServices."""

from __future__ import annotations

from typing import Any

import pytest

from policies.workloads import containers_have_resources, image_pinned, images_pinned, model_lineage
from runtime.wiring import LINEAGE_ANNOTATION_PREFIX
from tests.policies.builders import resource_args, run

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"
BOUNDED = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


def deployment(image: str, resources: dict | None = BOUNDED, init_image: str | None = None) -> dict:
    container: dict[str, Any] = {"name": "gateway", "image": image}
    if resources is not None:
        container["resources"] = resources
    pod: dict[str, Any] = {"containers": [container]}
    if init_image:
        pod["initContainers"] = [{"name": "init", "image": init_image, "resources": BOUNDED}]
    return {"spec": {"template": {"spec": pod}}}


@pytest.mark.parametrize(
    "image, pinned",
    [
        ("123456789012.dkr.ecr.us-west-2.amazonaws.com/ml-serving/runtime:0.1.0", True),
        ("ghcr.io/mlflow/mlflow@sha256:" + "a" * 64, True),
        ("localhost:5000/runtime:1.2", True),
        ("runtime:latest", False),
        ("runtime:LATEST", False),
        ("runtime", False),
        ("localhost:5000/runtime", False),
    ],
)
def test_image_pinned(image, pinned):
    assert image_pinned(image) is pinned


def test_deployment_with_pinned_images_passes():
    assert not run(
        images_pinned, resource_args(DEPLOYMENT, "gateway", deployment("runtime:0.1.0", init_image="busybox:1.36"))
    )


def test_latest_image_is_reported_with_its_container_path():
    reports = run(
        images_pinned, resource_args(DEPLOYMENT, "gateway", deployment("runtime:0.1.0", init_image="busybox:latest"))
    )
    assert len(reports) == 1
    assert "spec.template.spec.initContainers[0]" in reports.messages[0] and "busybox:latest" in reports.messages[0]


def test_serving_runtime_and_inference_service_images_are_checked():
    runtime = {"spec": {"containers": [{"name": "kserve-container", "image": "runtime", "resources": BOUNDED}]}}
    assert len(run(images_pinned, resource_args(RUNTIME, "ml-serving-mlflow", runtime))) == 1
    isvc = {"spec": {"predictor": {"containers": [{"name": "kserve-container", "image": "runtime:latest"}]}}}
    assert len(run(images_pinned, resource_args(ISVC, "fraud-v5", isvc))) == 1


def test_bounded_containers_pass():
    assert not run(containers_have_resources, resource_args(DEPLOYMENT, "gateway", deployment("runtime:0.1.0")))


@pytest.mark.parametrize(
    "resources, missing",
    [
        (None, "resources.requests.cpu"),
        ({"requests": {"cpu": "1", "memory": "1Gi"}}, "resources.limits.memory"),
        ({"requests": {"cpu": "1"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "resources.requests.memory"),
    ],
)
def test_unbounded_container_is_reported(resources, missing):
    reports = run(
        containers_have_resources, resource_args(DEPLOYMENT, "gateway", deployment("runtime:0.1.0", resources))
    )
    assert len(reports) == 1 and missing in reports.messages[0]


def test_inference_service_model_needs_resources():
    isvc = {"spec": {"predictor": {"model": {"modelFormat": {"name": "mlflow"}, "storageUri": "s3://b/m"}}}}
    reports = run(containers_have_resources, resource_args(ISVC, "fraud-v5", isvc))
    assert "spec.predictor.model" in reports.text()
    isvc["spec"]["predictor"]["model"]["resources"] = BOUNDED
    assert not run(containers_have_resources, resource_args(ISVC, "fraud-v5", isvc))


def lineage(**overrides: str) -> dict:
    annotations = {
        f"{LINEAGE_ANNOTATION_PREFIX}run-id": "4f1c0ffee",
        f"{LINEAGE_ANNOTATION_PREFIX}git-commit": "0123456789abcdef",
        f"{LINEAGE_ANNOTATION_PREFIX}dataset-digest": "sha256:beef",
    }
    annotations.update({f"{LINEAGE_ANNOTATION_PREFIX}{k.replace('_', '-')}": v for k, v in overrides.items()})
    return {"metadata": {"name": "fraud-v5", "annotations": annotations}, "spec": {"predictor": {}}}


def test_inference_service_with_lineage_passes():
    assert not run(model_lineage, resource_args(ISVC, "fraud-v5", lineage()))


@pytest.mark.parametrize("field", ["run_id", "git_commit", "dataset_digest"])
def test_inference_service_without_lineage_is_reported(field):
    reports = run(model_lineage, resource_args(ISVC, "fraud-v5", lineage(**{field: " "})))
    assert len(reports) == 1
    assert f"{LINEAGE_ANNOTATION_PREFIX}{field.replace('_', '-')}" in reports.messages[0]


def test_lineage_applies_only_to_inference_services():
    assert not run(model_lineage, resource_args(DEPLOYMENT, "gateway", deployment("runtime:0.1.0")))
