"""Rules over the cluster's network surface: MLflow stays private, Istio mTLS is STRICT."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from policies.rule import ReportViolation, known

__all__ = ["kind_of", "mlflow_not_public", "istio_mtls_strict", "istio_mtls_declared", "PUBLIC_SERVICE_TYPES"]

PUBLIC_SERVICE_TYPES = frozenset({"LoadBalancer", "NodePort"})
_HELM_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
_WEAK_MODES = frozenset({"PERMISSIVE", "DISABLE"})
_JUDGED = frozenset({("core", "Service"), ("networking.k8s.io", "Ingress"), ("networking.istio.io", "VirtualService")})
_FIX = (
    "MLflow holds every model, run and dataset reference and has no authentication of its own; "
    "exposing it lets anyone read or overwrite the registry. Keep its Service of type ClusterIP and "
    "reach it from inside the cluster (or with kubectl port-forward)."
)


def kind_of(resource_type: str) -> tuple[str, str]:
    """``kubernetes:networking.istio.io/v1beta1:VirtualService`` -> (``networking.istio.io``, ``VirtualService``)."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return "", ""
    return parts[1].split("/")[0], parts[2]


def _mentions_mlflow(value: Any) -> bool:
    return isinstance(value, str) and "mlflow" in value.lower()


def _is_mlflow(props: Mapping[str, Any], name: str) -> bool:
    metadata = props.get("metadata") or {}
    labels = metadata.get("labels") or {}
    selector = (props.get("spec") or {}).get("selector") or {}
    candidates = [
        name,
        metadata.get("name"),
        *labels.values(),
        *(selector.values() if isinstance(selector, Mapping) else []),
    ]
    return any(_mentions_mlflow(v) for v in candidates)


def _ingress_backends(spec: Mapping[str, Any]) -> list[str]:
    backends = [((spec.get("defaultBackend") or {}).get("service") or {}).get("name")]
    for rule in spec.get("rules") or []:
        for path in ((rule or {}).get("http") or {}).get("paths") or []:
            backends.append((((path or {}).get("backend") or {}).get("service") or {}).get("name"))
    return [b for b in backends if isinstance(b, str)]


def _virtual_service_hosts(spec: Mapping[str, Any]) -> list[str]:
    hosts = []
    for section in ("http", "tcp", "tls"):
        for route in spec.get(section) or []:
            for target in (route or {}).get("route") or []:
                hosts.append(((target or {}).get("destination") or {}).get("host"))
    return [h for h in hosts if isinstance(h, str)]


def mlflow_not_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    group, kind = kind_of(args.resource_type)
    props = args.props
    if (group, kind) not in _JUDGED and args.resource_type not in _HELM_TYPES:
        return  # read nothing else: another kind's spec may be unknown in a preview
    spec = props.get("spec") or {}
    if (group, kind) == ("core", "Service") and _is_mlflow(props, args.name):
        if spec.get("type") in PUBLIC_SERVICE_TYPES:
            report_violation(f"Service {args.name!r} exposes MLflow with type {spec['type']}. {_FIX}")
        if spec.get("externalIPs"):
            report_violation(f"Service {args.name!r} gives MLflow externalIPs {spec['externalIPs']}. {_FIX}")
    elif (group, kind) == ("networking.k8s.io", "Ingress"):
        exposed = [b for b in _ingress_backends(spec) if _mentions_mlflow(b)]
        if exposed:
            report_violation(f"Ingress {args.name!r} routes to MLflow service(s) {', '.join(exposed)}. {_FIX}")
    elif (group, kind) == ("networking.istio.io", "VirtualService"):
        gateways = [g for g in spec.get("gateways") or ["mesh"] if g != "mesh"]
        exposed = [h for h in _virtual_service_hosts(spec) if _mentions_mlflow(h)]
        if exposed and gateways:
            report_violation(
                f"VirtualService {args.name!r} routes gateway(s) {', '.join(gateways)} to MLflow host(s) "
                f"{', '.join(exposed)}. {_FIX}"
            )
    elif args.resource_type in _HELM_TYPES and _mentions_mlflow(props.get("chart")):
        service_type = ((props.get("values") or {}).get("service") or {}).get("type")
        if service_type in PUBLIC_SERVICE_TYPES:
            report_violation(f"Helm release {args.name!r} installs MLflow with service.type {service_type}. {_FIX}")


def _deploys_istio(resources: list[PolicyResource]) -> bool:
    for resource in resources:
        if kind_of(resource.resource_type)[0].endswith("istio.io"):
            return True
        chart = known(resource.props, "chart") if resource.resource_type in _HELM_TYPES else None
        if isinstance(chart, str) and chart.rsplit("/", 1)[-1] in {"istiod", "base", "istio-base"}:
            return True
    return False


def _modes(spec: Mapping[str, Any]) -> list[str]:
    modes = [(spec.get("mtls") or {}).get("mode")]
    modes += [(port or {}).get("mode") for port in (spec.get("portLevelMtls") or {}).values()]
    return [m for m in modes if isinstance(m, str)]


def istio_mtls_strict(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A PeerAuthentication's own inputs: no PERMISSIVE or DISABLE mode, at any level."""
    if kind_of(args.resource_type) != ("security.istio.io", "PeerAuthentication"):
        return
    weak = [m for m in _modes(args.props.get("spec") or {}) if m.upper() in _WEAK_MODES]
    if weak:
        report_violation(
            f"PeerAuthentication {args.name!r} sets mTLS mode {', '.join(weak)}. Plain-text traffic "
            "inside the mesh lets any pod read or spoof calls to model servers and bypasses the "
            "AuthorizationPolicy's identity check. Set spec.mtls.mode STRICT (and drop portLevelMtls overrides)."
        )


def istio_mtls_declared(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A stack that installs Istio has a namespace- or mesh-wide STRICT PeerAuthentication.

    Stack rules see outputs; in a first preview a PeerAuthentication has none yet (the cluster,
    and so the Kubernetes provider, is unknown). Then the rule says it cannot judge instead of
    failing: each PeerAuthentication's inputs were judged by ``istio_mtls_strict``.
    """
    if not _deploys_istio(args.resources):
        return
    peer_auths = [r for r in args.resources if kind_of(r.resource_type) == ("security.istio.io", "PeerAuthentication")]
    judged = [r for r in peer_auths if isinstance(known(r.props, "spec"), Mapping)]
    strict = [
        r
        for r in judged
        if (r.props["spec"].get("mtls") or {}).get("mode") == "STRICT" and not r.props["spec"].get("selector")
    ]
    if strict:
        return
    if len(judged) < len(peer_auths):
        args.not_applicable(
            f"{len(peer_auths) - len(judged)} PeerAuthentication(s) have no known outputs in this preview; their "
            "inputs are judged by istio-mtls-strict"
        )
    report_violation(
        "The stack installs Istio but declares no PeerAuthentication with spec.mtls.mode STRICT for a "
        "whole namespace or the mesh. Istio's default is PERMISSIVE, which accepts plain text, so "
        "identities and the gateway-only AuthorizationPolicy can be bypassed. Add a PeerAuthentication "
        "(no selector) with mtls.mode STRICT in the serving namespace or istio-system."
    )
