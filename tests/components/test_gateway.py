"""Gateway component: workload, config with specs and predictor URLs, checksum roll, auth, exposure."""

from __future__ import annotations

import pulumi
import pytest

from components.gateway import CONFIG_CHECKSUM_ANNOTATION, Gateway, GatewayArgs
from runtime.spec import load_stack
from runtime.wiring import GATEWAY_SERVICE_ACCOUNT, GatewayConfig
from tests.components.recorded import of_kind, schema_problems, settled

PROD = load_stack("prod")
MONITOR_URL = "http://ml-serving-drift.ml-serving.svc.cluster.local:8090"


def gateway(name: str, spec=PROD, tokens: str | None = "t1,t2") -> Gateway:
    return Gateway(name, GatewayArgs(spec, "ml-serving", tokens=tokens, monitor_url=MONITOR_URL))


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
        GatewayArgs(PROD, "ml-serving", tokens="t", monitor_url=MONITOR_URL, monitor_token_secret=TOKEN_SECRET),
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
