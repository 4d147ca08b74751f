"""Serving: KServe CRDs then controller (Standard mode), then the project's ClusterServingRuntime."""

from __future__ import annotations

import pulumi

from components.cluster import Cluster, ClusterArgs
from components.serving import MODEL_DIR, Serving, ServingArgs
from runtime.spec import load_stack
from runtime.wiring import SERVING_RUNTIME_NAME
from tests.components.renders import stack_renders

LOCAL = load_stack("local").platform


@pulumi.runtime.test
def test_runtime_serves_mlflow_over_v2_with_the_runtime_images_model_server():
    cluster = Cluster(
        "serving-local", ClusterArgs(LOCAL.cluster, LOCAL.versions, LOCAL.namespace, cluster_name="ml-serving-s")
    )
    serving = Serving(
        "serving-local", ServingArgs(LOCAL.versions, cluster, LOCAL.images.runtime, "http://mlflow.test:5000")
    )
    runtime = serving.serving_runtime

    def check(args):
        urn, metadata, spec, version = args
        assert metadata["name"] == SERVING_RUNTIME_NAME, urn
        assert [f["name"] for f in spec["supportedModelFormats"]] == ["mlflow"], urn
        assert spec["protocolVersions"] == ["v2"], urn
        container = spec["containers"][0]
        assert container["image"] == LOCAL.images.runtime, urn
        assert container["command"] == ["python", "-m", "runtime.modelserver"], urn
        argv = container["args"]
        assert (
            argv[argv.index("--model_name") + 1] == "{{.Name}}" and argv[argv.index("--model_dir") + 1] == MODEL_DIR
        ), urn
        assert {"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow.test:5000"} in container["env"], urn
        assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready", urn
        assert version == LOCAL.versions.kserve, urn

    return pulumi.Output.all(runtime.urn, runtime.metadata, runtime.spec, serving.controller.version).apply(check)


def test_crds_before_controller_before_runtime_in_raw_deployment_mode():
    resources = stack_renders()["prod"]["resources"]
    by_name = {r["name"]: r for r in resources}
    crd, controller, runtime = by_name["serving-kserve-crd"], by_name["serving-kserve"], by_name["serving-runtime"]
    assert crd["urn"] in controller["dependencies"], controller["urn"]
    assert controller["urn"] in runtime["dependencies"], runtime["urn"]
    assert controller["inputs"]["values"]["kserve"]["controller"]["deploymentMode"] == "Standard", controller["urn"]
