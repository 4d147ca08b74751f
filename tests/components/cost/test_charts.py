"""The monitoring release's pods and volume are priced: read from its values over the chart's defaults."""

from __future__ import annotations

from components.cost.charts import chart_claims, chart_pods
from components.cost.workloads import workloads
from tests.components.renders import stack_renders


def test_prometheus_alertmanager_and_the_operator_need_room_on_the_nodes():
    document = stack_renders()["prod"]
    pods = {w.name: w for w in workloads(document) if w.kind == "Pod"}
    assert sorted(pods) == [
        "monitoring/kube-prometheus-stack-alertmanager",
        "monitoring/kube-prometheus-stack-prometheus",
        "monitoring/kube-prometheus-stack-prometheus-operator",
    ]
    prometheus = pods["monitoring/kube-prometheus-stack-prometheus"]
    # The values' requests, no sidecar: the monitoring namespace is outside the mesh.
    assert (prometheus.cpu_m, prometheus.memory_mib, prometheus.min, prometheus.max) == (500, 2048, 1, 1)
    assert (
        pods["monitoring/kube-prometheus-stack-alertmanager"].cpu_m,
        pods["monitoring/kube-prometheus-stack-alertmanager"].memory_mib,
    ) == (50, 128)
    assert all(w.urn.endswith("::monitoring-kube-prometheus-stack") for w in pods.values())


def test_prometheus_volume_is_one_claim_per_replica_of_the_declared_size():
    document = stack_renders()["prod"]
    [(name, _, claim)] = list(chart_claims(document))
    assert name == "prometheus-kube-prometheus-stack-prometheus-0"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "gp3"


def test_an_existing_prometheus_costs_nothing_here():
    document = {
        "resources": [r for r in stack_renders()["prod"]["resources"] if "kube-prometheus-stack" not in r["urn"]]
    }
    assert list(chart_pods(document)) == [] and list(chart_claims(document)) == []
