"""Prometheus and Grafana for the platform: kube-prometheus-stack, or the user's own Prometheus.

``platform.monitoring`` picks one. The platform's own is the pinned kube-prometheus-stack chart
(the Prometheus Operator, one Prometheus, Alertmanager, Grafana) in its own namespace, outside
the mesh; ``existing`` uses a Prometheus Operator the cluster already runs and installs nothing
of it. Either way the stack ships, labelled so that Prometheus selects them:

- PodMonitors for the gateway, the drift monitor and every predictor;
- the shipped alert rules (the drift monitor's and the gateway's, ``runtime.alerting``) as a PrometheusRule;
- the dashboards of ``components/dashboards/`` as ConfigMaps for Grafana's dashboard sidecar.

Scraping under STRICT mTLS: a Prometheus outside the mesh cannot reach an application port
(the sidecar refuses plaintext). Each scraped pod declares its own metrics port and path in the
``prometheus.io/*`` annotations; with ``meshConfig.enablePrometheusMerge`` (istiod's default,
set by the mesh) the injector points them at the agent's status port (15020, which the sidecar
does not intercept), and the agent serves the application's metrics merged with Envoy's on
``/stats/prometheus`` there. The PodMonitors scrape that port: no mTLS exception, no port
opened to plaintext, and the application ports stay behind their AuthorizationPolicies.

The kube-prometheus-stack's Prometheus selects, by default, only monitors and rules carrying
its own ``release`` label (``*SelectorNilUsesHelmValues: true``); the values here turn that off,
so it selects them in every namespace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.monitor import MONITOR_NAME
from components.scraping import MERGED_METRICS_PATH, MERGED_METRICS_PORT
from runtime.alerting import alert_rule_groups
from runtime.spec import MonitoringSpec, StackSpec
from runtime.wiring import GATEWAY_SERVICE_ACCOUNT, PART_OF

__all__ = [
    "MonitoringStack",
    "MonitoringStackArgs",
    "stack_values",
    "prometheus_url",
    "pod_monitor_targets",
    "DASHBOARDS_DIR",
    "CHART",
    "RELEASE_NAME",
]

CHART = "kube-prometheus-stack"
RELEASE_NAME = CHART
"""Also the chart's fullname (it contains the chart name), so its Prometheus Service is
``kube-prometheus-stack-prometheus``."""
_CHART_REPO = "https://prometheus-community.github.io/helm-charts"
PROMETHEUS_PORT = 9090
DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
GRAFANA_ADMIN_SECRET = "grafana-admin"
_SCRAPE_INTERVAL = "15s"
_POD_LABEL = "app.kubernetes.io/name"


def prometheus_url(monitoring: MonitoringSpec) -> str:
    """The Prometheus HTTP API promotion queries, from inside the cluster."""
    if monitoring.existing is not None:
        return monitoring.existing.url
    return f"http://{RELEASE_NAME}-prometheus.{monitoring.namespace}.svc.cluster.local:{PROMETHEUS_PORT}"


def pod_monitor_targets() -> dict[str, dict]:
    """PodMonitor name -> its pod selector: the gateway, the drift monitor, every predictor."""
    return {
        "ml-serving-gateway": {"matchLabels": {**PART_OF, _POD_LABEL: GATEWAY_SERVICE_ACCOUNT}},
        "ml-serving-drift": {"matchLabels": {**PART_OF, _POD_LABEL: MONITOR_NAME}},
        "ml-serving-predictors": {
            "matchLabels": dict(PART_OF),
            "matchExpressions": [{"key": "ml-serving.io/model", "operator": "Exists"}],
        },
    }


def stack_values(monitoring: MonitoringSpec, storage_class: str | None) -> dict:
    """Values of the kube-prometheus-stack release (checked against the pinned chart's values.yaml)."""
    claim: dict = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{monitoring.storage_gb}Gi"}},
    }
    if storage_class:
        claim["storageClassName"] = storage_class
    return {
        "prometheus": {
            "prometheusSpec": {
                # Without these the chart's Prometheus selects only objects labelled with its own
                # release, and the stack's monitors and rules would be ignored without a word.
                "podMonitorSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeInterval": _SCRAPE_INTERVAL,
                "retention": f"{monitoring.retention_days}d",
                "resources": {
                    "requests": {"cpu": "500m", "memory": "2Gi"},
                    "limits": {"memory": "4Gi"},
                },
                "storageSpec": {"volumeClaimTemplate": {"spec": claim}},
            }
        },
        "alertmanager": {
            "alertmanagerSpec": {
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
            }
        },
        "prometheusOperator": {
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
        },
        "grafana": {
            # Never the chart's well-known default password: a generated one, from a Secret.
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                }
            },
        },
    }


@dataclass(frozen=True, kw_only=True)
class MonitoringStackArgs:
    spec: StackSpec
    namespace: pulumi.Input[str]
    """The platform's namespace (the monitors and the rule live beside what they watch)."""
    provider: pulumi.ProviderResource | None = None
    storage_class: str | None = None
    """StorageClass of Prometheus's volume (None: the cluster's default)."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """Node groups and the StorageClass the release's pods and claim need."""


class MonitoringStack(pulumi.ComponentResource):
    release: k8s.helm.v3.Release | None
    grafana_admin: k8s.core.v1.Secret | None
    pod_monitors: dict[str, k8s.apiextensions.CustomResource]
    rules: k8s.apiextensions.CustomResource | None
    dashboards: dict[str, k8s.core.v1.ConfigMap]
    url: pulumi.Output[str]
    """The Prometheus HTTP API promotion queries."""

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:MonitoringStack", name, None, opts)
        platform = args.spec.platform
        monitoring = platform.monitoring
        existing = monitoring.existing
        base = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        self.release = self.grafana_admin = None
        if existing is None:
            password = random.RandomPassword(
                f"{name}-grafana-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace", metadata={"name": monitoring.namespace, "labels": dict(PART_OF)}, opts=base
            )
            in_namespace = pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[namespace]))
            self.grafana_admin = k8s.core.v1.Secret(
                f"{name}-grafana-admin",
                metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": monitoring.namespace, "labels": dict(PART_OF)},
                string_data={"admin-user": "admin", "admin-password": password.result},
                opts=in_namespace,
            )
            self.release = k8s.helm.v3.Release(
                f"{name}-kube-prometheus-stack",
                name=RELEASE_NAME,
                chart=CHART,
                version=platform.versions.kube_prometheus_stack,
                repository_opts={"repo": _CHART_REPO},
                namespace=monitoring.namespace,
                values=stack_values(monitoring, args.storage_class),
                opts=pulumi.ResourceOptions.merge(
                    in_namespace, pulumi.ResourceOptions(depends_on=[self.grafana_admin])
                ),
            )
        # Objects of the Operator's kinds wait for its CRDs (the release installs them).
        operator = pulumi.ResourceOptions.merge(
            base, pulumi.ResourceOptions(depends_on=[self.release] if self.release else [])
        )
        selector_labels = existing.selector_labels if existing else {}
        labels = {**PART_OF, **selector_labels}
        self.pod_monitors = {
            target: k8s.apiextensions.CustomResource(
                f"{name}-{target.removeprefix('ml-serving-')}-podmonitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata={"name": target, "namespace": args.namespace, "labels": labels},
                spec={
                    "selector": selector,
                    "podTargetLabels": ["ml-serving.io/model", "ml-serving.io/variant", "ml-serving.io/role"],
                    "podMetricsEndpoints": [
                        {"portNumber": MERGED_METRICS_PORT, "path": MERGED_METRICS_PATH, "interval": _SCRAPE_INTERVAL}
                    ],
                },
                opts=operator,
            )
            for target, selector in pod_monitor_targets().items()
        }
        self.rules = None
        if platform.monitor.prometheus_rule:
            # Prometheus evaluates the same rules the project tests with promtool.
            self.rules = k8s.apiextensions.CustomResource(
                f"{name}-alerts",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata={"name": "ml-serving-alerts", "namespace": args.namespace, "labels": labels},
                spec={"groups": alert_rule_groups()},
                opts=operator,
            )
        dashboard_labels = existing.dashboard_labels if existing else {"grafana_dashboard": "1"}
        dashboard_namespace = existing.dashboard_namespace if existing else monitoring.namespace
        self.dashboards = {}
        if dashboard_labels:
            for path in sorted(DASHBOARDS_DIR.glob("*.json")):
                board = json.loads(path.read_text())
                self.dashboards[path.stem] = k8s.core.v1.ConfigMap(
                    f"{name}-dashboard-{path.stem}",
                    metadata={
                        "name": f"ml-serving-dashboard-{path.stem}",
                        "namespace": dashboard_namespace,
                        "labels": {**PART_OF, **dashboard_labels},
                    },
                    data={path.name: json.dumps(board, sort_keys=True)},
                    opts=operator,
                )
        self.url = pulumi.Output.from_input(prometheus_url(monitoring))
        self.register_outputs({"prometheusUrl": self.url})
