"""The monitoring component: kube-prometheus-stack pinned, or the user's own Prometheus; the
monitors, the alert rules and the dashboards either way."""

from __future__ import annotations

import json
import shutil
import subprocess

import pulumi
import pytest
import yaml

from components.deployability.charts import chart_defaults
from components.monitoring import DASHBOARDS_DIR, MonitoringStack, MonitoringStackArgs
from runtime.alerting import ALERT_RULE_FILES
from runtime.spec import SECRET_PLACEHOLDER, STACKS_DIR, load_stack, read_stack_config, validate_config
from tests.components.recorded import children, of_kind, settled

PROD = load_stack("prod")


def _with_monitoring(monitoring: dict, monitor: dict | None = None):
    config, _ = read_stack_config(STACKS_DIR / "Pulumi.prod.yaml")
    config["ml-serving:platform"]["monitoring"] = monitoring
    if monitor is not None:
        config["ml-serving:platform"]["monitor"] = {**config["ml-serving:platform"].get("monitor", {}), **monitor}
    return validate_config(config, "prod")


@pulumi.runtime.test
def test_the_platforms_own_prometheus_grafana_monitors_rules_and_dashboards():
    component = MonitoringStack("t-mon", MonitoringStackArgs(spec=PROD, namespace="ml-serving", storage_class="gp3"))

    def check(args: list) -> None:
        urn, url = args
        [release] = [r for r in children(urn) if r["type"] == "kubernetes:helm.sh/v3:Release"]
        inputs = release["inputs"]
        assert (inputs["chart"], inputs["version"], inputs["namespace"]) == (
            "kube-prometheus-stack",
            "88.5.3",
            "monitoring",
        ), urn
        spec = inputs["values"]["prometheus"]["prometheusSpec"]
        assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "gp3", urn
        assert spec["retention"] == "15d", urn
        # Grafana's admin password is generated into a Secret, never the chart's default.
        defaults = chart_defaults("kube-prometheus-stack", "88.5.3")
        assert defaults is not None, "the pinned kube-prometheus-stack chart is missing from the shared charts"
        assert defaults["grafana"]["admin"]["existingSecret"] == ""
        [(secret_urn, secret)] = of_kind(urn, "Secret")
        assert inputs["values"]["grafana"]["admin"]["existingSecret"] == secret["metadata"]["name"], secret_urn
        assert secret["stringData"]["admin-password"] == SECRET_PLACEHOLDER, secret_urn  # a generated secret
        monitors = {m["metadata"]["name"]: m for _, m in of_kind(urn, "PodMonitor")}
        assert sorted(monitors) == ["ml-serving-drift", "ml-serving-gateway", "ml-serving-predictors"], urn
        for name, monitor in monitors.items():
            assert monitor["metadata"]["namespace"] == "ml-serving", name
            assert monitor["spec"]["podMetricsEndpoints"] == [
                {"portNumber": 15020, "path": "/stats/prometheus", "interval": "15s"}
            ], name
        [(rule_urn, rule)] = of_kind(urn, "PrometheusRule")
        groups = [g for path in ALERT_RULE_FILES for g in yaml.safe_load(path.read_text())["groups"]]
        assert [g["name"] for g in rule["spec"]["groups"]] == [
            "ml-serving-drift",
            "ml-serving-gateway",
            "ml-serving-model-servers",
        ], rule_urn
        assert rule["spec"]["groups"] == groups, rule_urn
        boards = {m["metadata"]["name"]: m for _, m in of_kind(urn, "ConfigMap")}
        shipped = sorted(DASHBOARDS_DIR.glob("*.json"))
        assert sorted(boards) == [f"ml-serving-dashboard-{p.stem}" for p in shipped], urn
        for path in shipped:
            board = boards[f"ml-serving-dashboard-{path.stem}"]
            assert board["metadata"]["labels"]["grafana_dashboard"] == "1", path
            assert json.loads(board["data"][path.name]) == json.loads(path.read_text()), path
        assert url == "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090", urn

    return pulumi.Output.all(settled(component), component.url).apply(check)


@pulumi.runtime.test
def test_an_existing_prometheus_gets_only_labelled_monitors_rules_and_dashboards():
    spec = _with_monitoring(
        {
            "existing": {
                "url": "http://prometheus-operated.observability.svc:9090",
                "selectorLabels": {"release": "platform-prometheus"},
                "dashboardLabels": {"dashboards": "ml"},
                "dashboardNamespace": "observability",
            }
        }
    )
    component = MonitoringStack("t-mon-existing", MonitoringStackArgs(spec=spec, namespace="ml-serving"))

    def check(args: list) -> None:
        urn, url = args
        assert not [r for r in children(urn) if r["type"] == "kubernetes:helm.sh/v3:Release"], urn
        assert of_kind(urn, "Secret") == [] and of_kind(urn, "Namespace") == [], urn
        for kind in ("PodMonitor", "PrometheusRule"):
            found = of_kind(urn, kind)
            assert found and all(m["metadata"]["labels"]["release"] == "platform-prometheus" for _, m in found), kind
        for board_urn, board in of_kind(urn, "ConfigMap"):
            assert board["metadata"]["namespace"] == "observability", board_urn
            assert board["metadata"]["labels"]["dashboards"] == "ml", board_urn
        assert url == "http://prometheus-operated.observability.svc:9090", urn

    return pulumi.Output.all(settled(component), component.url).apply(check)


@pulumi.runtime.test
def test_the_alert_rules_can_be_switched_off():
    spec = _with_monitoring({}, {"prometheusRule": False})
    component = MonitoringStack("t-mon-norules", MonitoringStackArgs(spec=spec, namespace="ml-serving"))
    assert component.rules is None

    def check(urn: str) -> None:
        assert of_kind(urn, "PrometheusRule") == [], urn

    return settled(component, *component.pod_monitors.values()).apply(check)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is installed by scripts/ensure-tools.sh")
def test_promtool_accepts_the_prometheus_rule_as_rendered(tmp_path):
    from tests.components.renders import stack_renders

    [rule] = [r["inputs"] for r in stack_renders()["prod"]["resources"] if r["type"].endswith(":PrometheusRule")]
    assert rule["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ml-serving"
    path = tmp_path / "rule.yaml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    shipped = sum(len(g["rules"]) for path in ALERT_RULE_FILES for g in yaml.safe_load(path.read_text())["groups"])
    assert shipped == 11 and f"SUCCESS: {shipped} rules found" in result.stdout, result.stdout
