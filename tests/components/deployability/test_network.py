"""load-balancer: the controller the Service's annotations call for, its order, tagged subnets."""

from __future__ import annotations

from tests.components.deployability.helpers import findings, only, release_values, render_of, resource

_RELEASE = "kubernetes:helm.sh/v3:Release"


def test_without_the_controller_the_gateway_service_never_gets_an_address():
    document = render_of("prod")
    document["resources"] = [r for r in document["resources"] if r["name"] != "cluster-lb-controller"]
    finding = only(document, "load-balancer")
    assert finding.resource.startswith("Helm release istio-ingress/istio-ingressgateway (chart gateway 1.28.1)"), (
        finding
    )
    assert "the Service never gets an address and Helm's wait on it times out" in finding.message, finding


def test_the_gateway_must_wait_for_the_controllers_webhook():
    document = render_of("prod")
    gateway = resource(document, _RELEASE, "mesh-ingress-gateway")
    controller = resource(document, _RELEASE, "cluster-lb-controller")["urn"]
    gateway["dependencies"] = [d for d in gateway["dependencies"] if d != controller]
    finding = only(document, "load-balancer")
    assert "without waiting for the AWS Load Balancer Controller" in finding.message, finding


def test_untagged_subnets_leave_the_controller_nowhere_to_put_the_nlb():
    document = render_of("prod")
    for spec in resource(document, "awsx:ec2:Vpc", "cluster-vpc")["inputs"]["subnetSpecs"]:
        spec.pop("tags")
    finding = only(document, "load-balancer")
    assert "internet-facing NLB needs subnets tagged kubernetes.io/role/elb=1" in finding.message, finding


def test_external_without_a_target_type_is_taken_by_nobody():
    document = render_of("prod")
    annotations = release_values(document, "mesh-ingress-gateway")["service"]["annotations"]
    del annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"]
    finding = only(document, "load-balancer")
    assert "'external' without nlb-target-type" in finding.message, finding


def test_a_load_balancer_on_an_existing_cluster_is_named():
    document = render_of("local")
    assert findings(document, "load-balancer") == []
    release_values(document, "mesh-ingress-gateway")["service"] = {"type": "LoadBalancer"}
    finding = only(document, "load-balancer")
    assert "type LoadBalancer on an existing cluster" in finding.message, finding
