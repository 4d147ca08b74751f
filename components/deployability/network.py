"""Rule ``load-balancer``: every LoadBalancer Service has the controller its annotations call for.

The in-tree AWS cloud provider leaves a Service to the AWS Load Balancer Controller when its
``service.beta.kubernetes.io/aws-load-balancer-type`` is ``nlb-ip``, or ``external`` with an
``nlb-target-type`` of ``ip`` or ``instance``, or when its ``loadBalancerClass`` is
``service.k8s.aws/nlb`` (``pkg/service/service_utils.go`` at v3.5.0). Without that controller
the Service never gets an address, and Helm's wait on a release that holds it times out. The
controller also needs the subnets tagged for discovery (``kubernetes.io/role/elb`` for
internet-facing, ``kubernetes.io/role/internal-elb`` for internal), and its Service webhook
(``failurePolicy: Fail``) must be up before such a Service is created. On an existing cluster
(kind, minikube) nothing gives a LoadBalancer Service an address unless the cluster brings one.

Services come from the render's objects and from the charts: the Istio gateway chart's
``service`` values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from components.deployability.charts import effective_values
from components.deployability.render_view import Finding, RenderView, label

__all__ = ["load_balancer", "handled_by_lb_controller"]

_PREFIX = "service.beta.kubernetes.io/"
_LB_CLASS = "service.k8s.aws/nlb"
_ELB_TAG = {
    "internet-facing": ("kubernetes.io/role/elb", "Public"),
    "internal": ("kubernetes.io/role/internal-elb", "Private"),
}


@dataclass(frozen=True)
class _Service:
    where: str
    urn: str
    annotations: dict[str, Any]
    load_balancer_class: str | None


def handled_by_lb_controller(annotations: dict[str, Any], load_balancer_class: str | None) -> bool:
    if load_balancer_class is not None:
        return load_balancer_class == _LB_CLASS
    kind = annotations.get(f"{_PREFIX}aws-load-balancer-type")
    target = annotations.get(f"{_PREFIX}aws-load-balancer-nlb-target-type")
    return kind == "nlb-ip" or (kind == "external" and target in ("ip", "instance"))


def _services(view: RenderView) -> Iterator[_Service]:
    for urn, service in view.of_kind("Service"):
        spec = service.get("spec") or {}
        if spec.get("type") == "LoadBalancer":
            yield _Service(
                label(service, urn),
                urn,
                (service.get("metadata") or {}).get("annotations") or {},
                spec.get("loadBalancerClass"),
            )
    for release in view.releases:
        if release.chart != "gateway":
            continue
        service = effective_values(release).get("service") or {}
        if service.get("type") == "LoadBalancer":
            yield _Service(
                f"{release.label} Service",
                release.urn,
                service.get("annotations") or {},
                service.get("loadBalancerClass"),
            )


def _subnets_tagged(view: RenderView, scheme: str) -> bool:
    key, subnet_type = _ELB_TAG[scheme]
    for vpc in view.of_type("awsx:ec2:Vpc"):
        specs = (vpc.get("inputs") or {}).get("subnetSpecs") or []
        if any(s.get("type") == subnet_type and (s.get("tags") or {}).get(key) == "1" for s in specs):
            return True
    return any((t.get("inputs") or {}).get("key") == key for t in view.of_type("aws:ec2/tag:Tag"))


def load_balancer(view: RenderView) -> list[Finding]:
    findings = []
    controller = view.release("aws-load-balancer-controller")
    for service in _services(view):
        if not view.is_eks:
            findings.append(
                Finding(
                    "load-balancer",
                    service.where,
                    "type LoadBalancer on an existing cluster: kind and minikube give it "
                    "no address, so Helm's wait times out; fix: NodePort (or ClusterIP with port-forward) off EKS",
                )
            )
            continue
        annotations = service.annotations
        if annotations.get(f"{_PREFIX}aws-load-balancer-type") == "external" and not handled_by_lb_controller(
            annotations, service.load_balancer_class
        ):
            findings.append(
                Finding(
                    "load-balancer",
                    service.where,
                    "aws-load-balancer-type 'external' without nlb-target-type ip or instance: "
                    "the in-tree provider skips it and the controller does not take it; it never gets an address; fix: "
                    "set service.beta.kubernetes.io/aws-load-balancer-nlb-target-type",
                )
            )
            continue
        if not handled_by_lb_controller(annotations, service.load_balancer_class):
            continue
        if controller is None:
            findings.append(
                Finding(
                    "load-balancer",
                    service.where,
                    "asks for the AWS Load Balancer Controller, which the stack does not "
                    "install: the Service never gets an address and Helm's wait on it times out; fix: install the "
                    "aws-load-balancer-controller chart with its own IRSA role",
                )
            )
            continue
        if not effective_values(controller).get("clusterName"):
            findings.append(
                Finding(
                    "load-balancer",
                    controller.label,
                    "clusterName is unset: the controller does not start; fix: set it",
                )
            )
        if controller.urn not in view.waits_for(service.urn):
            findings.append(
                Finding(
                    "load-balancer",
                    service.where,
                    "is created without waiting for the AWS Load Balancer Controller, whose "
                    "Service webhook (failurePolicy Fail) then refuses it; fix: depend on the controller's release",
                )
            )
        scheme = annotations.get(f"{_PREFIX}aws-load-balancer-scheme", "internal")
        if scheme in _ELB_TAG and not _subnets_tagged(view, scheme):
            key = _ELB_TAG[scheme][0]
            findings.append(
                Finding(
                    "load-balancer",
                    service.where,
                    f"an {scheme} NLB needs subnets tagged {key}=1, and no subnet of the "
                    f"stack is: the controller finds no subnet and the Service gets no address; fix: tag them",
                )
            )
    return findings
