"""Rule ``scraping``: what the Prometheus Operator, Istio and Grafana's sidecar would do with the
stack's monitoring objects.

- The chart's Prometheus selects a PodMonitor or PrometheusRule by the selectors its
  ``Prometheus`` object gets from the values (``templates/prometheus/prometheus.yaml`` at
  kube-prometheus-stack 88.5.3): an explicit ``podMonitorSelector`` (``ruleSelector``) if set;
  else, with ``*SelectorNilUsesHelmValues`` true (the chart's default), ``release: <release>``;
  else everything. Namespace selectors: ``{}`` is every namespace. An object it does not select
  is ignored without a word: no scrape, no alert.
- A PodMonitor selects pods by labels; one that selects no pod of the render scrapes nothing.
- A pod in a mesh-injected namespace refuses plaintext on its own ports (STRICT mTLS): it is
  scraped on the agent's status port (istiod's ``global.proxy.statusPort``) at
  ``/stats/prometheus``, which serves the pod's own metrics only when istiod merges them
  (``meshConfig.enablePrometheusMerge``) and the pod names its port in ``prometheus.io/port``.
- The dashboards' ConfigMaps carry the label Grafana's sidecar watches, in a namespace it searches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from components.deployability.charts import effective_values
from components.deployability.render_view import Finding, Release, RenderView, label

__all__ = ["scraping", "prometheus_selects", "label_selector_matches", "scraped_pods"]

_CHART = "kube-prometheus-stack"
_SELECTORS = {"PodMonitor": "podMonitor", "ServiceMonitor": "serviceMonitor", "PrometheusRule": "rule"}


def label_selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (``{}`` matches everything)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _selector(release: Release, kind: str) -> dict[str, Any]:
    spec = (effective_values(release).get("prometheus") or {}).get("prometheusSpec") or {}
    key = _SELECTORS[kind]
    if spec.get(f"{key}Selector"):
        return spec[f"{key}Selector"]
    if spec.get(f"{key}SelectorNilUsesHelmValues"):
        return {"matchLabels": {"release": release.name}}
    return {}


def prometheus_selects(release: Release, manifest: dict[str, Any], namespaces: dict[str, dict[str, str]]) -> bool:
    """Whether the release's Prometheus picks the monitor or rule up (labels and namespace)."""
    kind = manifest["kind"]
    metadata = manifest.get("metadata") or {}
    spec = (effective_values(release).get("prometheus") or {}).get("prometheusSpec") or {}
    namespace_selector = spec.get(f"{_SELECTORS[kind]}NamespaceSelector")
    namespace = str(metadata.get("namespace") or "")
    in_namespace = (
        namespace == release.namespace
        if namespace_selector is None
        else label_selector_matches(namespace_selector, namespaces.get(namespace, {}))
    )
    return in_namespace and label_selector_matches(_selector(release, kind), metadata.get("labels") or {})


def scraped_pods(view: RenderView) -> Iterator[tuple[str, str, dict[str, str], dict[str, str]]]:
    """(where, namespace, pod labels, pod annotations) of every workload's pod template."""
    for kind in ("Deployment", "StatefulSet"):
        for urn, m in view.of_kind(kind):
            template = ((m.get("spec") or {}).get("template") or {}).get("metadata") or {}
            yield (
                label(m, urn),
                str((m.get("metadata") or {}).get("namespace") or ""),
                dict(template.get("labels") or {}),
                dict(template.get("annotations") or {}),
            )
    for urn, m in view.of_kind("InferenceService"):
        predictor = (m.get("spec") or {}).get("predictor") or {}
        yield (
            label(m, urn),
            str((m.get("metadata") or {}).get("namespace") or ""),
            {**((m.get("metadata") or {}).get("labels") or {}), **(predictor.get("labels") or {})},
            dict(predictor.get("annotations") or {}),
        )


def _mesh(view: RenderView) -> tuple[int, bool]:
    istiod = view.release("istiod")
    values = effective_values(istiod) if istiod else {}
    port = int(((values.get("global") or {}).get("proxy") or {}).get("statusPort", 15020))
    return port, bool((values.get("meshConfig") or {}).get("enablePrometheusMerge"))


def _pod_monitor(view: RenderView, urn: str, monitor: dict[str, Any]) -> Iterator[Finding]:
    where = label(monitor, urn)
    spec = monitor.get("spec") or {}
    namespace = (monitor.get("metadata") or {}).get("namespace")
    namespaces = spec.get("namespaceSelector") or {}
    pods = [
        p
        for p in scraped_pods(view)
        if (namespaces.get("any") or p[1] in (namespaces.get("matchNames") or [namespace]))
        and label_selector_matches(spec.get("selector"), p[2])
    ]
    if not pods:
        yield Finding("scraping", where, "selects no pod of the stack: it scrapes nothing; fix: its selector")
        return
    status_port, merged = _mesh(view)
    for endpoint in spec.get("podMetricsEndpoints") or []:
        for pod_where, pod_namespace, _, pod_annotations in pods:
            if pod_namespace not in view.injected_namespaces:
                continue
            if endpoint.get("portNumber") != status_port or endpoint.get("path") != "/stats/prometheus":
                yield Finding(
                    "scraping",
                    where,
                    f"scrapes {pod_where} on port {endpoint.get('portNumber') or endpoint.get('port')} "
                    f"{endpoint.get('path', '/metrics')}, behind its sidecar's STRICT mTLS: Prometheus outside "
                    f"the mesh is refused; fix: scrape the agent's merged metrics, portNumber {status_port} "
                    "path /stats/prometheus",
                )
            elif not merged or "prometheus.io/port" not in pod_annotations:
                yield Finding(
                    "scraping",
                    where,
                    f"the agent's /stats/prometheus of {pod_where} holds only Envoy's metrics: "
                    + (
                        "istiod's meshConfig.enablePrometheusMerge is off"
                        if not merged
                        else "the pod names no prometheus.io/port"
                    )
                    + "; fix: turn metrics merging on and annotate the pod with its metrics port and path",
                )


def _dashboards(view: RenderView, release: Release) -> Iterator[Finding]:
    sidecar = ((effective_values(release).get("grafana") or {}).get("sidecar") or {}).get("dashboards") or {}
    if not sidecar.get("enabled"):
        return
    wanted = {sidecar.get("label", "grafana_dashboard"): str(sidecar.get("labelValue", "1"))}
    search = sidecar.get("searchNamespace")
    for urn, m in view.of_kind("ConfigMap"):
        metadata = m.get("metadata") or {}
        if not str(metadata.get("name", "")).startswith("ml-serving-dashboard-"):
            continue
        labels = metadata.get("labels") or {}
        searched = search == "ALL" or metadata.get("namespace") in (
            [release.namespace] if not search else str(search).split(",")
        )
        if any(labels.get(k) != v for k, v in wanted.items()) or not searched:
            yield Finding(
                "scraping",
                label(m, urn),
                f"Grafana's dashboard sidecar loads ConfigMaps labelled {wanted} in "
                f"{search or release.namespace}: this dashboard is never shown; fix: its labels or namespace",
            )


def scraping(view: RenderView) -> list[Finding]:
    release = view.release(_CHART)
    if release is None:
        return []
    namespaces: dict[str, dict[str, str]] = {
        str((m.get("metadata") or {}).get("name")): dict((m.get("metadata") or {}).get("labels") or {})
        for _, m in view.of_kind("Namespace")
    }
    findings = []
    for kind in _SELECTORS:
        for urn, m in view.of_kind(kind):
            if not prometheus_selects(release, m, namespaces):
                findings.append(
                    Finding(
                        "scraping",
                        label(m, urn),
                        f"the {release.name} Prometheus does not select this {kind} (its selector is "
                        f"{_selector(release, kind)}): it is ignored without a word; fix: set "
                        f"prometheus.prometheusSpec.{_SELECTORS[kind]}SelectorNilUsesHelmValues to false, or label it",
                    )
                )
            if kind == "PodMonitor":
                findings += _pod_monitor(view, urn, m)
    findings += _dashboards(view, release)
    return findings
