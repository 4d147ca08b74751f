"""The schema walk: every stack's render validates; an invalid field is named with its path."""

from __future__ import annotations

import copy

import pytest

from components.schema import SchemaViolation, schemas_dir, walk
from runtime.spec import load_stack
from tests.components.renders import ROOT, STACKS, stack_renders


def _find(document: dict, kind_type: str, name: str) -> dict:
    return next(r for r in document["resources"] if r["type"] == kind_type and r["name"] == name)


def _with(document: dict, resource: dict) -> dict:
    return {**document, "resources": [resource]}


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_of_every_stack_validates(stack):
    version = load_stack(stack).platform.cluster.kubernetes_version
    report = walk(stack_renders()[stack], version)
    kinds = {label.split()[0] for label in report.checked}
    assert {"Namespace", "Deployment", "Secret", "Service", "PeerAuthentication", "ClusterServingRuntime"} <= kinds, (
        report.checked
    )


def test_schemas_are_read_beside_the_repository():
    folder = schemas_dir()
    assert folder == ROOT.parent / "shared" / "schemas"
    assert not (ROOT / "shared").exists(), "the upstream schemas are reference data: never copied into the project"


def test_invalid_core_fields_are_named_with_their_path():
    resource = copy.deepcopy(_find(stack_renders()["prod"], "kubernetes:apps/v1:Deployment", "mlflow-deployment"))
    resource["inputs"]["spec"]["replicas"] = "two"
    resource["inputs"]["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(SchemaViolation) as caught:
        walk(_with(stack_renders()["prod"], resource))
    problems = caught.value.problems
    assert len(problems) == 2, problems
    assert all(p.startswith(f"Deployment ml-serving/mlflow ({resource['urn']})") for p in problems), problems
    assert any("spec.replicas: 'two' is not of type 'integer'" in p for p in problems), problems
    assert any("spec.template.spec.containers[0]" in p and "imagePullPolcy" in p for p in problems), problems


def test_invalid_custom_resource_fields_are_named_with_their_path():
    mtls = copy.deepcopy(
        _find(stack_renders()["prod"], "kubernetes:security.istio.io/v1:PeerAuthentication", "mesh-strict-mtls")
    )
    mtls["inputs"]["spec"]["mtls"]["mode"] = "STRIKT"
    runtime = copy.deepcopy(
        _find(stack_renders()["prod"], "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime", "serving-runtime")
    )
    runtime["inputs"]["spec"]["containers"][0]["comand"] = ["python"]
    document = {**stack_renders()["prod"], "resources": [mtls, runtime]}
    with pytest.raises(SchemaViolation) as caught:
        walk(document)
    problems = caught.value.problems
    assert any(
        p.startswith("PeerAuthentication istio-system/default") and "spec.mtls.mode: 'STRIKT'" in p for p in problems
    ), problems
    assert any(
        p.startswith("ClusterServingRuntime ml-serving-mlflow") and "spec.containers[0]" in p and "'comand'" in p
        for p in problems
    ), problems


def test_unknown_kserve_kind_is_an_error_and_other_groups_are_reported():
    base = _find(stack_renders()["prod"], "kubernetes:security.istio.io/v1:PeerAuthentication", "mesh-strict-mtls")
    typo = copy.deepcopy(base)
    typo["inputs"].update(apiVersion="serving.kserve.io/v1beta1", kind="InferenceServise")
    with pytest.raises(SchemaViolation, match="no schema for serving.kserve.io/v1beta1 InferenceServise"):
        walk(_with(stack_renders()["prod"], typo))
    other = copy.deepcopy(base)
    other["inputs"].update(apiVersion="monitoring.coreos.com/v1", kind="ServiceMonitor")
    report = walk(_with(stack_renders()["prod"], other))
    assert report.unchecked == ["ServiceMonitor istio-system/default"] and report.checked == []
