"""scraping: the chart's Prometheus selects the stack's monitors and rules, they reach the pods
through the mesh, and Grafana's sidecar finds the dashboards; read from the pinned charts."""

from __future__ import annotations

import pytest

from components.deployability.charts import chart_defaults
from components.monitoring import CHART, RELEASE_NAME
from tests.components.deployability.helpers import findings, release_values, render_of, resource
from tests.components.renders import STACKS

_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_is_scraped_alerted_and_shown(stack):
    document = render_of(stack)
    kinds = {r["type"].rsplit(":", 1)[-1] for r in document["resources"]}
    assert {"PodMonitor", "PrometheusRule"} <= kinds, stack
    assert [str(f) for f in findings(document, "scraping")] == [], stack


def test_the_charts_default_selectors_would_ignore_every_monitor_and_rule():
    # The pinned chart's own default: only objects labelled with its release are selected.
    spec = chart_defaults(CHART, "88.5.3")["prometheus"]["prometheusSpec"]
    assert spec["podMonitorSelectorNilUsesHelmValues"] is True and spec["ruleSelectorNilUsesHelmValues"] is True
    document = render_of("prod")
    values = release_values(document, "monitoring-kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    values["podMonitorSelectorNilUsesHelmValues"] = True
    values["ruleSelectorNilUsesHelmValues"] = True
    ignored = [f for f in findings(document, "scraping") if "does not select" in f.message]
    assert sorted(f.resource.split(" (")[0] for f in ignored) == [
        "PodMonitor ml-serving/ml-serving-drift",
        "PodMonitor ml-serving/ml-serving-gateway",
        "PodMonitor ml-serving/ml-serving-predictors",
        "PrometheusRule ml-serving/ml-serving-alerts",
    ]
    assert all(f"{{'release': '{RELEASE_NAME}'}}" in f.message for f in ignored), ignored
    # Labelled with the release, they are selected again.
    for r in document["resources"]:
        if r["type"] in (_MONITOR, "kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
            r["inputs"]["metadata"]["labels"]["release"] = RELEASE_NAME
    assert [f for f in findings(document, "scraping") if "does not select" in f.message] == []


def test_a_plain_scrape_of_the_application_port_is_refused_by_strict_mtls():
    document = render_of("prod")
    endpoint = resource(document, _MONITOR, "monitoring-gateway-podmonitor")["inputs"]["spec"]["podMetricsEndpoints"][0]
    endpoint.update(portNumber=8080, path="/metrics")
    [finding] = findings(document, "scraping")
    assert "Deployment ml-serving/ml-serving-gateway" in finding.message and "STRICT mTLS" in finding.message, finding
    assert "portNumber 15020 path /stats/prometheus" in finding.message, finding


def test_merged_metrics_need_merging_on_and_the_pods_metrics_port():
    document = render_of("prod")
    release_values(document, "mesh-istiod")["meshConfig"]["enablePrometheusMerge"] = False
    found = findings(document, "scraping")
    assert found and all("enablePrometheusMerge is off" in f.message for f in found), [str(f) for f in found]
    document = render_of("prod")
    deployment = resource(document, "kubernetes:apps/v1:Deployment", "drift-deployment")
    del deployment["inputs"]["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
    [finding] = findings(document, "scraping")
    assert "ml-serving-drift" in finding.message and "names no prometheus.io/port" in finding.message, finding


def test_a_monitor_selecting_nothing_and_an_unlabelled_dashboard_are_named():
    document = render_of("prod")
    monitor = resource(document, _MONITOR, "monitoring-predictors-podmonitor")["inputs"]["spec"]
    monitor["selector"]["matchLabels"]["ml-serving.io/model"] = "no-such-model"
    dashboard = resource(document, "kubernetes:core/v1:ConfigMap", "monitoring-dashboard-rollouts")
    dashboard["inputs"]["metadata"]["labels"]["grafana_dashboard"] = "0"
    messages = sorted(f.message for f in findings(document, "scraping"))
    assert len(messages) == 2, messages
    assert "never shown" in messages[0] and "{'grafana_dashboard': '1'}" in messages[0], messages
    assert "selects no pod of the stack" in messages[1], messages


def test_the_scrape_opens_no_port_to_plaintext_and_no_policy_to_the_monitoring_namespace():
    from tests.components.authz import Request, allowed

    document = render_of("prod")
    kinds = {}
    for r in document["resources"]:
        kind = r["type"].rsplit(":", 1)[-1]
        if kind in ("AuthorizationPolicy", "PeerAuthentication"):
            kinds.setdefault(kind, []).append(r["inputs"])
    # Mesh-wide STRICT mTLS stays the only PeerAuthentication: no port-level exception.
    assert [p["spec"] for p in kinds["PeerAuthentication"]] == [{"mtls": {"mode": "STRICT"}}]
    text = str([p["spec"] for p in kinds["AuthorizationPolicy"]])
    assert "monitoring" not in text and "15020" not in text, text
    # Through the sidecar, Prometheus's identity may not read a predictor's /metrics: the
    # PodMonitors scrape the agent's status port, which the sidecar does not intercept.
    [predictors] = [p["spec"] for p in kinds["AuthorizationPolicy"] if p["metadata"]["name"] == "fraud-predictors"]
    prometheus = "cluster.local/ns/monitoring/sa/kube-prometheus-stack-prometheus"
    assert not allowed([predictors], Request(prometheus, "GET", "/metrics"))
    assert not allowed([predictors], Request(None, "GET", "/metrics"))
