"""The mesh: cert-manager, Istio (base, istiod, ingress gateway) and mesh-wide STRICT mTLS.

Order matters and is explicit: Istio's CRDs (base) before istiod, istiod (its validating and
injecting webhooks) before the ingress gateway and before any Istio resource.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import Cluster
from runtime.spec import VersionsSpec

__all__ = ["Mesh", "MeshArgs", "ISTIO_NAMESPACE", "INGRESS_NAMESPACE", "CERT_MANAGER_NAMESPACE", "ISTIO_CHARTS"]

ISTIO_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"
CERT_MANAGER_NAMESPACE = "cert-manager"
ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts"
_CERT_MANAGER_CHARTS = "https://charts.jetstack.io"


@dataclass(frozen=True, kw_only=True)
class MeshArgs:
    versions: VersionsSpec
    cluster: Cluster


class Mesh(pulumi.ComponentResource):
    cert_manager: k8s.helm.v3.Release
    istio_base: k8s.helm.v3.Release
    istiod: k8s.helm.v3.Release
    ingress_gateway: k8s.helm.v3.Release
    peer_authentication: k8s.apiextensions.CustomResource
    ready: list[pulumi.Resource]
    """What a workload that needs certificates and sidecars depends on."""

    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:Mesh", name, None, opts)
        versions, cluster = args.versions, args.cluster

        def k8s_opts(*depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=list(depends_on))

        self.cert_manager = k8s.helm.v3.Release(
            f"{name}-cert-manager",
            name="cert-manager",
            chart="cert-manager",
            version=versions.cert_manager,
            repository_opts={"repo": _CERT_MANAGER_CHARTS},
            namespace=CERT_MANAGER_NAMESPACE,
            create_namespace=True,
            # Keep the CRDs on uninstall: deleting them would delete every Certificate with them.
            values={"crds": {"enabled": True, "keep": True}},
            opts=k8s_opts(),
        )
        self.istio_base = k8s.helm.v3.Release(
            f"{name}-istio-base",
            name="istio-base",
            chart="base",
            version=versions.istio,
            repository_opts={"repo": ISTIO_CHARTS},
            namespace=ISTIO_NAMESPACE,
            create_namespace=True,
            values={"defaultRevision": "default"},
            opts=k8s_opts(),
        )
        self.istiod = k8s.helm.v3.Release(
            f"{name}-istiod",
            name="istiod",
            chart="istiod",
            version=versions.istio,
            repository_opts={"repo": ISTIO_CHARTS},
            namespace=ISTIO_NAMESPACE,
            values={
                "meshConfig": {"accessLogFile": "/dev/stdout", "enablePrometheusMerge": True},
                # The 1.28 chart reads these at the top level (a pilot.* key is silently dropped).
                "autoscaleMin": 2 if cluster.is_eks else 1,
                # Sidecars as native sidecar containers (Kubernetes 1.29+), started before the
                # other init containers: KServe's storage initializer downloads the model in one,
                # and behind a plain sidecar's traffic capture it has no network. Istio turns this
                # on by itself only when every kubelet is 1.33 or newer.
                "env": {"ENABLE_NATIVE_SIDECARS": "true"},
            },
            opts=k8s_opts(self.istio_base),
        )
        # On EKS the gateway gets an internet-facing NLB; a local cluster has no load balancer.
        service = (
            {
                "type": "LoadBalancer",
                "annotations": {
                    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
                    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
                },
            }
            if cluster.is_eks
            else {"type": "NodePort"}
        )
        self.ingress_gateway = k8s.helm.v3.Release(
            f"{name}-ingress-gateway",
            name="istio-ingressgateway",
            chart="gateway",
            version=versions.istio,
            repository_opts={"repo": ISTIO_CHARTS},
            namespace=INGRESS_NAMESPACE,
            create_namespace=True,
            values={"service": service, "autoscaling": {"minReplicas": 2 if cluster.is_eks else 1}},
            # The controller's Service webhook (failurePolicy Fail) must answer before the
            # gateway's Service is created, and it alone gives that Service an address.
            opts=k8s_opts(
                self.istiod, *([cluster.load_balancer_controller] if cluster.load_balancer_controller else [])
            ),
        )
        # Mesh-wide (root namespace, no selector): no plaintext traffic between workloads.
        self.peer_authentication = k8s.apiextensions.CustomResource(
            f"{name}-strict-mtls",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata={"name": "default", "namespace": ISTIO_NAMESPACE},
            spec={"mtls": {"mode": "STRICT"}},
            opts=k8s_opts(self.istiod),
        )
        self.ready = [self.cert_manager, self.istiod, self.peer_authentication]
        self.register_outputs(
            {
                "certManagerVersion": self.cert_manager.version,
                "istioVersion": self.istiod.version,
                "ingressGatewayNamespace": INGRESS_NAMESPACE,
            }
        )
