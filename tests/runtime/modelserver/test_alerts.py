"""The model servers' shipped alert rules: valid, unit-tested with promtool, and about series a
real model server exports, batched and unbatched, label values included."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from runtime.alerting import ALERT_RULE_FILES
from runtime.protocol.deadline import TIMEOUT_HEADER
from tests.promtool import check_and_test_rules, needs_promtool
from tests.runtime.modelserver.servers import start_server
from tests.runtime.modelserver.test_server import infer, with_input

RULES = Path(__file__).resolve().parents[3] / "runtime" / "modelserver" / "alerts.yaml"


def test_the_rules_ship_with_the_others():
    assert RULES in ALERT_RULE_FILES  # loaded by the local Prometheus and the cluster's PrometheusRule


@needs_promtool
def test_rules_pass_promtool_check_and_unit_tests():
    check_and_test_rules(RULES, Path(__file__).with_name("alerts_test.yaml"))


@pytest.fixture(scope="module")
def unbatched_server(fraud_registry, tmp_path_factory):
    server = start_server(
        ["--model_name", "fraud", "--model_dir", fraud_registry["uri"]],
        tmp_path_factory.mktemp("server") / "unbatched.log",
        env={"MLFLOW_TRACKING_URI": fraud_registry["tracking_uri"]},
    )
    yield server
    server.stop()


def _selectors(expr: str) -> list[str]:
    return re.findall(r"(ml_serving_batch_\w+)", expr)


@pytest.mark.parametrize("fixture", ["batched_server", "unbatched_server"])
def test_every_series_the_rules_select_is_exported_with_the_model_label(request, fixture):
    """One request predicted and one dropped out of time: both sides of the expired share."""
    server = request.getfixturevalue(fixture)
    assert infer(server, with_input()).status_code == 200
    assert infer(server, with_input(), headers={TIMEOUT_HEADER: "0"}).status_code == 503
    families = {}
    for family in text_string_to_metric_families(httpx.get(f"{server.url}/metrics", timeout=10).text):
        families[family.name] = family
        for sample in family.samples:
            families[sample.name] = family
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    checked = 0
    for rule in rules:
        for name in _selectors(rule["expr"]):
            family = families.get(name) or families.get(name.removesuffix("_total"))
            assert family is not None, f"{rule['alert']}: {name} is not exported"
            if name == "ml_serving_batch_retries_total":
                continue  # its samples come with a failing batch
            values = [s.value for s in family.samples if s.name == name and s.labels.get("model") == "fraud"]
            assert values and values[0] >= 1, f"{rule['alert']}: no {name}{{model='fraud'}} counted: {family}"
            checked += 1
    assert checked >= 3, checked
