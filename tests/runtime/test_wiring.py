"""The cluster conventions in runtime/wiring.py hold in every stack's render."""

from __future__ import annotations

from runtime.spec import load_stack
from runtime.wiring import PART_OF, RUNTIME_UID, app_labels, inference_service_name
from tests.components.renders import STACKS, stack_renders


def test_every_container_of_the_runtime_image_runs_as_its_uid():
    checked = 0
    for stack in STACKS:
        image = load_stack(stack).platform.images.runtime
        for resource in stack_renders()[stack]["resources"]:
            kind = resource["type"].removeprefix("kubernetes:")
            if kind not in {"apps/v1:Deployment", "serving.kserve.io/v1alpha1:ClusterServingRuntime"}:
                continue
            inputs = resource["inputs"]
            pod = inputs["spec"]["template"]["spec"] if kind.endswith("Deployment") else inputs["spec"]
            for container in pod["containers"]:
                if container["image"] != image:
                    continue
                uid = container.get("securityContext", {}).get(
                    "runAsUser", pod.get("securityContext", {}).get("runAsUser")
                )
                assert uid == RUNTIME_UID, f"{resource['urn']}: {container['name']} runs as {uid}"
                checked += 1
    assert checked >= 3 * len(STACKS), checked  # MLflow, the gateway and the model server at least


def test_the_platforms_own_workloads_carry_the_part_of_label():
    workloads = 0
    for stack in STACKS:
        for resource in stack_renders()[stack]["resources"]:
            if resource["type"] in {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"}:
                labels = resource["inputs"]["metadata"].get("labels", {})
                assert PART_OF.items() <= labels.items(), f"{resource['urn']}: labels {labels}"
                workloads += 1
    assert workloads >= 3 * len(STACKS), workloads


def test_app_labels_name_the_part():
    assert app_labels("mlflow") == {"app.kubernetes.io/part-of": "ml-serving", "app.kubernetes.io/name": "mlflow"}


def test_inference_service_names_are_the_ones_the_render_creates():
    spec = load_stack("prod")
    expected = {inference_service_name(m, v) for m, rollout in spec.models.items() for v in rollout.variants}
    rendered = {
        r["inputs"]["metadata"]["name"]
        for r in stack_renders()["prod"]["resources"]
        if r["type"] == "kubernetes:serving.kserve.io/v1beta1:InferenceService"
    }
    assert rendered == expected
