"""Pods and volumes that a Helm chart creates, which the render shows only as the release's values.

kube-prometheus-stack (``components.monitoring``): its Prometheus and Alertmanager (replicas and
requests under ``prometheus.prometheusSpec`` / ``alertmanager.alertmanagerSpec``), the operator
(``prometheusOperator.resources``) and Prometheus's volume (``storageSpec.volumeClaimTemplate``),
read from the release's values over the pinned chart's defaults. Its namespace is outside the
mesh: no sidecar. Grafana, kube-state-metrics and the node exporter request nothing at the
pinned chart's defaults and are not counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from components.deployability.charts import effective_values
from components.deployability.render_view import Release, RenderView

__all__ = ["chart_pods", "chart_claims"]


def _monitoring(document: Mapping[str, Any]) -> tuple[Release, dict[str, Any]] | None:
    release = RenderView(dict(document)).release("kube-prometheus-stack")
    return (release, effective_values(release)) if release else None


def chart_pods(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], int]]:
    """(name, release URN, the pod's resources, replicas) of each counted pod of a chart."""
    found = _monitoring(document)
    if found is None:
        return
    release, values = found
    parts = {
        "prometheus": (values.get("prometheus") or {}).get("prometheusSpec") or {},
        "alertmanager": (values.get("alertmanager") or {}).get("alertmanagerSpec") or {},
        "prometheus-operator": {**(values.get("prometheusOperator") or {}), "replicas": 1},
    }
    enabled = {
        "prometheus": (values.get("prometheus") or {}).get("enabled", True),
        "alertmanager": (values.get("alertmanager") or {}).get("enabled", True),
        "prometheus-operator": (values.get("prometheusOperator") or {}).get("enabled", True),
    }
    for part, spec in parts.items():
        if enabled[part]:
            yield (
                f"{release.namespace}/{release.name}-{part}",
                release.urn,
                spec.get("resources") or {},
                int(spec.get("replicas", 1)),
            )


def chart_claims(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(claim name, release URN, PersistentVolumeClaim-shaped manifest) per replica's volume."""
    found = _monitoring(document)
    if found is None:
        return
    release, values = found
    spec = (values.get("prometheus") or {}).get("prometheusSpec") or {}
    template = ((spec.get("storageSpec") or {}).get("volumeClaimTemplate") or {}).get("spec")
    if not template:
        return
    for replica in range(int(spec.get("replicas", 1))):
        name = f"prometheus-{release.name}-prometheus-{replica}"
        yield name, release.urn, {"metadata": {"name": name}, "spec": template}
