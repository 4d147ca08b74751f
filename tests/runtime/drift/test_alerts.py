"""The shipped alert rules: valid, unit-tested with promtool, and about metrics the monitor exports."""

import re
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from runtime.drift.metrics import DriftCollector
from runtime.drift.service import DriftService
from runtime.drift.settings import MonitorSettings
from tests.promtool import check_and_test_rules, needs_promtool

from .conftest import make_rows, monitor_config, predict

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "runtime/drift/alerts.yaml"


@needs_promtool
def test_rules_pass_promtool_check_and_unit_tests():
    check_and_test_rules(RULES, Path(__file__).with_name("alerts_test.yaml"))


def test_every_metric_the_rules_use_is_exported(reference, tmp_path):
    settings = MonitorSettings(webhook_url="http://127.0.0.1:9/unused")
    service = DriftService(monitor_config(str(tmp_path)), settings, profiles={"fraud": {"v3": reference}})
    rows = make_rows(1_000, seed=2)
    service.ingest("fraud", "v3", {c: rows[c].to_numpy() for c in rows.columns}, {"fraud": predict(rows)})
    registry = CollectorRegistry()
    registry.register(DriftCollector(service))
    exported = set(re.findall(r"^(ml_serving_drift_\w+?)(?:\{| )", generate_latest(registry).decode(), re.M))
    used = set(re.findall(r"ml_serving_drift_\w+", RULES.read_text()))
    assert used and used <= exported, used - exported
