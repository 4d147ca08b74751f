"""platform.monitoring: the platform's own Prometheus or an existing one, refused with the key path."""

from __future__ import annotations

import pytest

from runtime.errors import SpecError
from runtime.spec import STACKS_DIR, read_stack_config, validate_config


def _prod(monitoring: dict):
    config, _ = read_stack_config(STACKS_DIR / "Pulumi.prod.yaml")
    config["ml-serving:platform"]["monitoring"] = monitoring
    return validate_config(config, "prod")


def test_defaults_install_the_pinned_chart_with_the_alert_rules_on():
    spec = _prod({})
    assert spec.platform.monitoring.existing is None and spec.platform.monitoring.namespace == "monitoring"
    assert spec.platform.versions.kube_prometheus_stack == "88.5.3"
    assert spec.platform.monitor.prometheus_rule is True


def test_an_existing_prometheus_is_read_with_its_labels():
    spec = _prod({"existing": {"url": "https://prom.example.internal/api", "selectorLabels": {"release": "kps"}}})
    existing = spec.platform.monitoring.existing
    assert existing is not None and existing.selector_labels == {"release": "kps"}
    assert existing.dashboard_labels == {"grafana_dashboard": "1"}


@pytest.mark.parametrize(
    ("monitoring", "where", "expected"),
    [
        ({"existing": {"url": "prometheus:9090"}}, "monitoring.existing.url", "expected an http(s) URL"),
        ({"existing": {}}, "monitoring.existing.url", "required key is missing"),
        (
            {"existing": {"url": "http://p:9090", "selectorLabels": {"release": "a b"}}},
            "monitoring.existing.selectorLabels",
            "not a Kubernetes label value",
        ),
        (
            {"existing": {"url": "http://p:9090", "dashboardLabels": {"-bad": "1"}}},
            "monitoring.existing.dashboardLabels",
            "not a Kubernetes label key",
        ),
        (
            {"existing": {"url": "http://p:9090"}, "storageGb": 50},
            "monitoring.storageGb",
            "only for the platform's own Prometheus",
        ),
        ({"retentionDays": 0}, "monitoring.retentionDays", ""),
        ({"prometheus": {}}, "monitoring.prometheus", ""),
    ],
)
def test_a_bad_monitoring_block_names_its_key_path(monitoring, where, expected):
    with pytest.raises(SpecError) as caught:
        _prod(monitoring)
    message = str(caught.value)
    assert f"ml-serving:platform.{where}" in message and expected in message, message
