"""No public MLflow; STRICT mTLS wherever Istio is installed."""

from __future__ import annotations

import pytest

from policies.mesh import istio_mtls_declared, istio_mtls_strict, mlflow_not_public
from tests.policies.builders import policy_resource, resource_args, run, stack_args

SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
PEER_AUTH = "kubernetes:security.istio.io/v1:PeerAuthentication"
HELM = "kubernetes:helm.sh/v3:Release"


def service(name: str, service_type: str | None = None, **spec) -> dict:
    props = {
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
        "spec": {"selector": {"app": name}, **spec},
    }
    if service_type:
        props["spec"]["type"] = service_type
    return props


@pytest.mark.parametrize("service_type", [None, "ClusterIP"])
def test_cluster_ip_mlflow_passes(service_type):
    assert not run(mlflow_not_public, resource_args(SERVICE, "mlflow", service("mlflow", service_type)))


@pytest.mark.parametrize("service_type", ["LoadBalancer", "NodePort"])
def test_exposed_mlflow_service_is_reported(service_type):
    reports = run(mlflow_not_public, resource_args(SERVICE, "mlflow", service("mlflow", service_type)))
    assert len(reports) == 1
    assert service_type in reports.messages[0] and "ClusterIP" in reports.messages[0]


def test_mlflow_external_ips_are_reported():
    reports = run(
        mlflow_not_public, resource_args(SERVICE, "tracking", service("mlflow-server", externalIPs=["203.0.113.7"]))
    )
    assert "externalIPs" in reports.text()


def test_public_gateway_service_is_not_mlflow():
    assert not run(
        mlflow_not_public, resource_args(SERVICE, "istio-ingress", service("istio-ingressgateway", "LoadBalancer"))
    )


def ingress(backend: str) -> dict:
    path = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": backend, "port": {"number": 80}}}}
    return {"spec": {"rules": [{"host": "x.example.com", "http": {"paths": [path]}}]}}


def test_ingress_to_mlflow_is_reported_and_to_the_gateway_is_not():
    assert "mlflow" in run(mlflow_not_public, resource_args(INGRESS, "tracking", ingress("mlflow"))).text()
    assert not run(mlflow_not_public, resource_args(INGRESS, "api", ingress("ml-serving-gateway")))


def virtual_service(host: str, gateways: list[str] | None) -> dict:
    spec = {"hosts": ["x"], "http": [{"route": [{"destination": {"host": host}}]}]}
    if gateways is not None:
        spec["gateways"] = gateways
    return {"spec": spec}


@pytest.mark.parametrize("gateways", [None, ["mesh"]])
def test_mesh_internal_route_to_mlflow_passes(gateways):
    assert not run(
        mlflow_not_public,
        resource_args(VIRTUAL_SERVICE, "mlflow", virtual_service("mlflow.ml-serving.svc.cluster.local", gateways)),
    )


def test_ingress_gateway_route_to_mlflow_is_reported():
    args = resource_args(
        VIRTUAL_SERVICE, "mlflow", virtual_service("mlflow.ml-serving.svc.cluster.local", ["istio-system/ingress"])
    )
    reports = run(mlflow_not_public, args)
    assert len(reports) == 1 and "istio-system/ingress" in reports.messages[0]


def test_mlflow_helm_release_with_load_balancer_is_reported():
    args = resource_args(HELM, "mlflow", {"chart": "mlflow", "values": {"service": {"type": "LoadBalancer"}}})
    assert len(run(mlflow_not_public, args)) == 1


def istiod() -> object:
    return policy_resource(HELM, "istiod", {"chart": "istiod", "version": "1.28.1"})


def peer_auth(name: str, mode: str, **spec) -> object:
    return policy_resource(
        PEER_AUTH, name, {"metadata": {"namespace": "istio-system"}, "spec": {"mtls": {"mode": mode}, **spec}}
    )


def test_istio_with_strict_peer_authentication_passes():
    assert not run(istio_mtls_declared, stack_args(istiod(), peer_auth("default", "STRICT")))


def test_istio_without_peer_authentication_is_reported():
    reports = run(istio_mtls_declared, stack_args(istiod()))
    assert len(reports) == 1 and "STRICT" in reports.messages[0]


def as_input(resource) -> object:
    return resource_args(resource.resource_type, resource.name, resource.props)


def test_permissive_peer_authentication_is_reported_on_its_inputs():
    weak = peer_auth("legacy", "PERMISSIVE")
    reports = run(istio_mtls_strict, as_input(weak))
    assert len(reports) == 1 and "PERMISSIVE" in reports.messages[0]
    assert not run(istio_mtls_strict, as_input(peer_auth("default", "STRICT")))


def test_port_level_downgrade_is_reported():
    weak = peer_auth("default", "STRICT", portLevelMtls={"8080": {"mode": "DISABLE"}})
    assert "DISABLE" in run(istio_mtls_strict, as_input(weak)).text()


def test_selector_scoped_strict_alone_is_not_enough():
    scoped = peer_auth("one-app", "STRICT", selector={"matchLabels": {"app": "x"}})
    assert len(run(istio_mtls_declared, stack_args(istiod(), scoped))) == 1


def test_peer_authentication_without_outputs_is_not_judged_but_said_so():
    # A first preview: the Kubernetes provider is unknown, so the PeerAuthentication has no outputs.
    unknown = policy_resource(PEER_AUTH, "default", {})
    with pytest.raises(Exception) as raised:
        run(istio_mtls_declared, stack_args(istiod(), unknown))
    assert type(raised.value).__name__ == "_NotApplicableError" and "no known outputs" in raised.value.reason


def test_stack_without_istio_is_not_checked():
    namespace = policy_resource("kubernetes:core/v1:Namespace", "namespace", {"metadata": {"name": "ml-serving"}})
    assert not run(istio_mtls_declared, stack_args(namespace))


def test_other_kinds_with_an_unknown_spec_are_not_read():
    # A preview: an AuthorizationPolicy whose spec depends on an output is unknown as a whole.
    from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, unknown_checking_proxy

    props = unknown_checking_proxy({"spec": UNKNOWN_OBJECT_VALUE})
    assert not run(
        mlflow_not_public, resource_args("kubernetes:security.istio.io/v1:AuthorizationPolicy", "drift-authz", props)
    )
