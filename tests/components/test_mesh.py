"""Mesh: cert-manager and Istio from pinned charts, in order, and mesh-wide STRICT mTLS."""

from __future__ import annotations

import pulumi

from components.cluster import Cluster, ClusterArgs
from components.mesh import ISTIO_NAMESPACE, Mesh, MeshArgs
from runtime.spec import load_stack
from tests.components.renders import stack_renders

LOCAL = load_stack("local").platform
PROD = load_stack("prod").platform


@pulumi.runtime.test
def test_releases_are_pinned_and_mtls_is_strict_mesh_wide():
    cluster = Cluster(
        "mesh-local",
        ClusterArgs(
            cluster=LOCAL.cluster, versions=LOCAL.versions, namespace=LOCAL.namespace, cluster_name="ml-serving-mesh"
        ),
    )
    mesh = Mesh("mesh-local", MeshArgs(versions=LOCAL.versions, cluster=cluster))
    releases = [mesh.cert_manager, mesh.istio_base, mesh.istiod, mesh.ingress_gateway]
    expected = [LOCAL.versions.cert_manager, *[LOCAL.versions.istio] * 3]

    def check(args):
        urn, spec, metadata, *versions = args
        assert spec == {"mtls": {"mode": "STRICT"}}, urn
        assert metadata["namespace"] == ISTIO_NAMESPACE and "selector" not in spec, urn
        assert versions == expected, urn

    pa = mesh.peer_authentication
    return pulumi.Output.all(pa.urn, pa.spec, pa.metadata, *(r.version for r in releases)).apply(check)


def test_prod_orders_istio_base_istiod_gateway_and_kserve_after_cert_manager():
    resources = stack_renders()["prod"]["resources"]
    releases = {r["inputs"]["name"]: r for r in resources if r["type"] == "kubernetes:helm.sh/v3:Release"}
    urn = {name: r["urn"] for name, r in releases.items()}
    assert urn["istio-base"] in releases["istiod"]["dependencies"], releases["istiod"]["urn"]
    assert urn["istiod"] in releases["istio-ingressgateway"]["dependencies"], releases["istio-ingressgateway"]["urn"]
    for name in ("kserve-crd", "kserve"):
        assert {urn["cert-manager"], urn["istiod"]} <= set(releases[name]["dependencies"]), releases[name]["urn"]
    gateway = releases["istio-ingressgateway"]["inputs"]["values"]["service"]
    assert gateway["type"] == "LoadBalancer", releases["istio-ingressgateway"]["urn"]
    for name, release in releases.items():
        assert release["inputs"].get("version"), f"{release['urn']}: chart {name} is not pinned"


def test_istiod_minimum_is_set_where_the_1_28_chart_reads_it():
    releases = {
        r["inputs"]["name"]: r
        for r in stack_renders()["prod"]["resources"]
        if r["type"] == "kubernetes:helm.sh/v3:Release"
    }
    values = releases["istiod"]["inputs"]["values"]
    assert values["autoscaleMin"] == 2 and "pilot" not in values, releases["istiod"]["urn"]


def test_the_ingress_gateway_waits_for_the_load_balancer_controller():
    releases = {
        r["inputs"]["name"]: r
        for r in stack_renders()["prod"]["resources"]
        if r["type"] == "kubernetes:helm.sh/v3:Release"
    }
    gateway = releases["istio-ingressgateway"]
    assert releases["aws-load-balancer-controller"]["urn"] in gateway["dependencies"], gateway["urn"]
