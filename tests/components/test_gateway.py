"""Gateway component: workload, config with specs and predictor URLs, checksum roll, auth, exposure."""

from __future__ import annotations

import pulumi
import pytest

from components.deployability.charts import effective_values
from components.deployability.render_view import RenderView
from components.gateway import CONFIG_CHECKSUM_ANNOTATION, Gateway, GatewayArgs
from runtime.spec import load_stack
from runtime.wiring import GATEWAY_SERVICE_ACCOUNT, GatewayConfig
from tests.components.recorded import of_kind, schema_problems, settled
from tests.components.renders import stack_renders

PROD = load_stack("prod")
MONITOR_URL = "http://ml-serving-drift.ml-serving.svc.cluster.local:8090"


def gateway(name: str, spec=PROD, tokens: str | None = "t1,t2") -> Gateway:
    return Gateway(name, GatewayArgs(spec=spec, namespace="ml-serving", tokens=tokens, monitor_url=MONITOR_URL))


def registered(component: Gateway):
    parts = [
        component.service_account,
        component.config_map,
        component.deployment,
        component.service,
        component.hpa,
        component.pdb,
        component.istio_gateway,
        component.virtual_service,
        component.authorization_policy,
    ]
    return settled(component, *parts, *([component.tokens] if component.tokens else []))


def only(urn: str, kind: str) -> tuple[str, dict]:
    found = of_kind(urn, kind)
    assert len(found) == 1, f"{urn}: expected one {kind}, found {len(found)}"
    return found[0]


@pulumi.runtime.test
def test_config_map_holds_every_spec_and_each_variants_predictor_url():
    component = gateway("t-gw")

    def check(urn: str) -> None:
        cm_urn, config_map = only(urn, "ConfigMap")
        config = GatewayConfig.model_validate_json(config_map["data"]["gateway.json"])
        assert config.models == dict(PROD.models), cm_urn
        assert config.monitor_url == MONITOR_URL, cm_urn
        fraud = config.endpoints["fraud"]
        assert sorted(fraud) == ["v5", "v6", "v7"], cm_urn
        assert fraud["v6"].url == "http://fraud-v6-predictor.ml-serving.svc.cluster.local", cm_urn
        assert fraud["v6"].model_name == "fraud-v6", cm_urn
        assert config.endpoints["vision"]["champion"].model_name == "vision-champion", cm_urn
        _, deployment = only(urn, "Deployment")
        pod = deployment["spec"]["template"]
        assert pod["spec"]["serviceAccountName"] == GATEWAY_SERVICE_ACCOUNT, urn
        assert pod["spec"]["containers"][0]["command"] == ["python", "-m", "runtime.gateway"], urn
        assert len(pod["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]) == 64, urn
        _, account = only(urn, "ServiceAccount")
        assert account["metadata"]["name"] == GATEWAY_SERVICE_ACCOUNT, urn
        _, hpa = only(urn, "HorizontalPodAutoscaler")
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12), urn
        # The HPA owns the count: a replicas field would reset it on every update.
        assert "replicas" not in deployment["spec"], urn
        _, pdb = only(urn, "PodDisruptionBudget")
        assert pdb["spec"]["minAvailable"] == 1, urn
        _, virtual_service = only(urn, "VirtualService")
        assert virtual_service["spec"]["hosts"] == ["ml.example.com"], urn
        _, istio_gateway = only(urn, "Gateway")
        assert istio_gateway["spec"]["servers"][0]["hosts"] == ["ml.example.com"], urn
        _, secret = only(urn, "Secret")
        assert "tokens" in secret["stringData"], urn
        assert schema_problems(urn) == []

    return registered(component).apply(check)


@pulumi.runtime.test
def test_a_spec_change_changes_the_pod_template_checksum():
    changed = PROD.model_copy(
        update={"models": {**PROD.models, "fraud": PROD.models["fraud"].model_copy(update={"latency_budget_ms": 40})}}
    )
    first, second = gateway("t-gw-a"), gateway("t-gw-b", changed)

    def checksum(urn: str) -> str:
        _, deployment = only(urn, "Deployment")
        return deployment["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]

    def check(urns: list[str]) -> None:
        assert checksum(urns[0]) != checksum(urns[1]), urns

    return pulumi.Output.all(registered(first), registered(second)).apply(check)


def test_auth_without_tokens_is_refused():
    with pytest.raises(ValueError, match="gatewayTokens"):
        gateway("t-gw-no-tokens", tokens=None)


@pulumi.runtime.test
def test_the_tap_mounts_the_monitor_token_secret():
    from components.monitor import TOKEN_KEY, TOKEN_SECRET

    component = Gateway(
        "t-gw-tap",
        GatewayArgs(
            spec=PROD, namespace="ml-serving", tokens="t", monitor_url=MONITOR_URL, monitor_token_secret=TOKEN_SECRET
        ),
    )

    def check(urn: str) -> None:
        _, deployment = only(urn, "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        volume = next(v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == TOKEN_SECRET)
        mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
        assert env["ML_SERVING_GATEWAY_MONITOR_TOKEN_FILE"] == f"{mount['mountPath']}/{TOKEN_KEY}", urn
        assert schema_problems(urn) == []

    return registered(component).apply(check)


@pulumi.runtime.test
def test_grpc_is_served_exposed_routed_and_admitted_beside_rest():
    component = gateway("t-gw-grpc")

    def check(urn: str) -> None:
        _, deployment = only(urn, "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][-2:] == ["--grpc-port", "8081"], urn
        assert {"name": "grpc", "containerPort": 8081, "protocol": "TCP"} in container["ports"], urn
        _, service = only(urn, "Service")
        grpc_port = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
        assert (grpc_port["port"], grpc_port["targetPort"], grpc_port["appProtocol"]) == (8081, 8081, "grpc"), urn
        _, virtual_service = only(urn, "VirtualService")
        grpc_route, rest_route = virtual_service["spec"]["http"]
        assert grpc_route["match"] == [{"headers": {"content-type": {"prefix": "application/grpc"}}}], urn
        assert grpc_route["route"][0]["destination"]["port"] == {"number": 8081}, urn
        assert "match" not in rest_route and rest_route["route"][0]["destination"]["port"] == {"number": 80}, urn
        _, istio_gateway = only(urn, "Gateway")
        assert istio_gateway["spec"]["servers"][0]["port"]["protocol"] == "HTTP2", f"{urn}: h2c must reach the route"
        _, policy = only(urn, "AuthorizationPolicy")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert policy["spec"]["selector"]["matchLabels"] == labels, urn
        assert policy["spec"]["rules"] == [{"to": [{"operation": {"ports": ["8080", "8081"]}}]}], urn
        assert schema_problems(urn) == []

    return registered(component).apply(check)


def _istio_protocol(port: dict) -> str:
    """Istio's protocol for a Service port: its appProtocol, else its name up to the first '-'
    (protocol selection, pilot/pkg/serviceregistry/kube/conversion.go); anything else is TCP."""
    return str(port.get("appProtocol") or port.get("name", "").split("-", 1)[0]).lower()


def _named(view: RenderView, kind: str, name: str) -> tuple[str, dict]:
    found = [(urn, m) for urn, m in view.of_kind(kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name} in the prod render, found {len(found)}"
    return found[0]


def _selects(selector: dict, labels: dict) -> bool:
    return selector.items() <= labels.items()


@pytest.mark.parametrize(
    ("route_name", "protocols", "process_flag"), [("grpc", {"grpc"}, "--grpc-port"), ("rest", {"http"}, "--port")]
)
def test_each_ingress_route_reaches_the_gateway_process_in_the_prod_render(route_name, protocols, process_flag):
    """Ingress port -> route -> Service port Istio treats as the right protocol -> container port
    the process listens on -> an AuthorizationPolicy that admits it, followed link by link."""
    view = RenderView(stack_renders()["prod"])
    namespace = PROD.platform.namespace
    ingress = view.release("gateway")
    assert ingress is not None, "no Istio gateway chart release in the prod render"
    chart_ports = {p["port"]: p for p in effective_values(ingress)["service"]["ports"]}
    gw_urn, istio_gateway = _named(view, "Gateway", GATEWAY_SERVICE_ACCOUNT)
    [server] = istio_gateway["spec"]["servers"]
    assert server["port"]["number"] in chart_ports, f"{gw_urn}: the ingress Service has ports {sorted(chart_ports)}"
    # gRPC clients speak h2c in plaintext: an HTTP (1.1) server would refuse their preface.
    assert server["port"]["protocol"] == "HTTP2", gw_urn
    vs_urn, virtual_service = _named(view, "VirtualService", GATEWAY_SERVICE_ACCOUNT)
    route = next(r for r in virtual_service["spec"]["http"] if r["name"] == route_name)
    [destination] = [d["destination"] for d in route["route"]]
    service_urn, service = _named(view, "Service", GATEWAY_SERVICE_ACCOUNT)
    assert destination["host"] == f"{GATEWAY_SERVICE_ACCOUNT}.{namespace}.svc.cluster.local", vs_urn
    port = next((p for p in service["spec"]["ports"] if p["port"] == destination["port"]["number"]), None)
    assert port is not None, f"{vs_urn}: routes to port {destination['port']} the Service {service_urn} lacks"
    assert _istio_protocol(port) in protocols, f"{service_urn}: Istio reads port {port} as {_istio_protocol(port)}"
    deploy_urn, deployment = _named(view, "Deployment", GATEWAY_SERVICE_ACCOUNT)
    pod = deployment["spec"]["template"]
    assert _selects(service["spec"]["selector"], pod["metadata"]["labels"]), service_urn
    [container] = pod["spec"]["containers"]
    assert port["targetPort"] in [p["containerPort"] for p in container["ports"]], deploy_urn
    args = container["args"]
    assert args[args.index(process_flag) + 1] == str(port["targetPort"]), f"{deploy_urn}: the process listens elsewhere"
    policies = [
        (urn, m["spec"])
        for urn, m in view.of_kind("AuthorizationPolicy")
        if m["metadata"].get("namespace") == namespace
        and _selects((m["spec"].get("selector") or {}).get("matchLabels") or {}, pod["metadata"]["labels"])
    ]
    assert policies, f"{deploy_urn}: no AuthorizationPolicy selects the gateway pods"
    # Istio matches `ports` against the workload's port, not the Service's: the targetPort.
    for urn, spec in policies:
        assert spec.get("action", "ALLOW") == "ALLOW", urn
        admitted = {
            p for rule in spec.get("rules") or [] for to in rule.get("to") or [] for p in to["operation"]["ports"]
        }
        assert str(port["targetPort"]) in admitted, f"{urn}: admits ports {sorted(admitted)}"
