"""Serving: KServe CRDs then controller (Standard mode), then the project's ClusterServingRuntime."""

from __future__ import annotations

from urllib.parse import urlsplit

import pulumi

from components.cluster import Cluster, ClusterArgs
from components.deployability.render_view import RenderView
from components.serving import MODEL_DIR, Serving, ServingArgs
from runtime.spec import load_stack
from runtime.wiring import SERVING_RUNTIME_NAME, GatewayConfig
from tests.components.renders import stack_renders

LOCAL = load_stack("local").platform


@pulumi.runtime.test
def test_runtime_serves_mlflow_over_v2_with_the_runtime_images_model_server():
    cluster = Cluster(
        "serving-local",
        ClusterArgs(
            cluster=LOCAL.cluster, versions=LOCAL.versions, namespace=LOCAL.namespace, cluster_name="ml-serving-s"
        ),
    )
    serving = Serving(
        "serving-local",
        ServingArgs(
            versions=LOCAL.versions, cluster=cluster, image=LOCAL.images.runtime, mlflow_url="http://mlflow.test:5000"
        ),
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


def test_the_gateway_reaches_predictors_over_rest_on_the_port_kserve_exposes():
    """By design the gateway calls predictors over REST (binary tensors when the client sent them):
    one upstream path for routing, retries, coalescing and shadows, and gRPC callers' tensors
    travel as the same raw bytes. So the runtime serves REST only, on the port KServe 0.16's
    RawDeployment Service maps to port 80 (the first container port; a name holding "grpc" or
    "h2c" would get appProtocol grpc: reconcilers/service/service_reconciler.go), which the
    gateway's predictor URLs name, and the predictors' AuthorizationPolicy admits the gateway
    on every port."""
    view = RenderView(stack_renders()["prod"])
    [(runtime_urn, runtime)] = list(view.of_kind("ClusterServingRuntime"))
    [container] = runtime["spec"]["containers"]
    [port] = container["ports"]
    assert "grpc" not in port["name"] and "h2c" not in port["name"], runtime_urn
    assert not any("grpc" in arg for arg in container["args"]), f"{runtime_urn}: the model server would serve gRPC"
    [(_, config_map)] = [(u, m) for u, m in view.of_kind("ConfigMap") if "gateway.json" in (m.get("data") or {})]
    config = GatewayConfig.model_validate_json(config_map["data"]["gateway.json"])
    services = {m["metadata"]["name"]: m for _, m in view.of_kind("InferenceService")}
    namespace = load_stack("prod").platform.namespace
    for model, endpoints in config.endpoints.items():
        for variant, endpoint in endpoints.items():
            url = urlsplit(endpoint.url)
            isvc = url.hostname.removesuffix(f"-predictor.{namespace}.svc.cluster.local") if url.hostname else ""
            assert (url.scheme, url.port, url.path) == ("http", None, ""), f"{model}/{variant}: {endpoint.url}"
            assert isvc in services, f"{model}/{variant}: {endpoint.url} names no InferenceService of the render"
            assert services[isvc]["spec"]["predictor"]["model"]["modelFormat"]["name"] == "mlflow", isvc
    policies = [
        (urn, m["spec"])
        for urn, m in view.of_kind("AuthorizationPolicy")
        if (m["metadata"]["name"]).endswith("-predictors")
    ]
    assert {spec["selector"]["matchLabels"]["ml-serving.io/model"] for _, spec in policies} == set(config.endpoints)
    for urn, spec in policies:
        assert all("to" not in rule for rule in spec["rules"]), f"{urn}: limits the ports the gateway may reach"
