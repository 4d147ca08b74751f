"""The gateway's shipped alert rules: valid, unit-tested with promtool, and about series a real
gateway exports, label values included."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from runtime.wiring import GatewayConfig, VariantEndpoint
from tests.promtool import check_and_test_rules, needs_promtool
from tests.runtime.gateway.conftest import model_spec, serve, v2

RULES = Path(__file__).resolve().parents[3] / "runtime" / "gateway" / "alerts.yaml"


@needs_promtool
def test_rules_pass_promtool_check_and_unit_tests():
    check_and_test_rules(RULES, Path(__file__).with_name("alerts_test.yaml"))


def _selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(metric, {label: value or regex}) of every series selector in a PromQL expression."""
    found = []
    for name, matchers in re.findall(r"(ml_serving_gateway_\w+)(?:\{([^}]*)\})?", expr):
        found.append((name, dict(re.findall(r'(\w+)\s*=~?\s*"([^"]*)"', matchers))))
    return found


async def test_every_series_the_rules_select_is_exported_with_those_labels(peer):
    """A failing variant behind a model with a fallback and one without: the fallback answers, the
    error answers and the open breaker are exactly the series the rules select."""
    failing = peer(mode="fail")
    breaker = {"failureThreshold": 1, "cooldownMs": 60_000}
    one = [{"model": "models:/m/1", "role": "primary", "weight": 100}]
    endpoints = {"v1": VariantEndpoint(url=failing.url, model_name="m")}
    config = GatewayConfig(
        stack="test",
        models={
            "with-fallback": model_spec(variants=one, circuitBreaker=breaker),
            "without": model_spec(variants=one, fallback=None, circuitBreaker=breaker),
        },
        endpoints={"with-fallback": endpoints, "without": endpoints},
        auth_required=False,
    )
    async with serve(config) as client:
        for model in ("with-fallback", "without"):
            for _ in range(2):
                await client.post(f"/v2/models/{model}/infer", json=v2([1.0]))
        exported = (await client.get("/metrics")).text
    samples: dict[str, list[dict[str, str]]] = {}
    families = set()
    for family in text_string_to_metric_families(exported):
        families.add(family.name)
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample.labels)
            if sample.name == "ml_serving_gateway_breaker_state":
                assert sample.value == 1, sample  # one failure opened it: the breaker rule would fire
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    checked = 0
    for rule in rules:
        for name, matchers in _selectors(rule["expr"]):
            assert name.removesuffix("_total") in families, f"{rule['alert']}: {name} is not exported"
            if name == "ml_serving_gateway_tap_records_total":
                continue  # no tap in this gateway: the family is there, its samples come with a monitor
            matching = [
                labels
                for labels in samples.get(name, [])
                if all(re.fullmatch(value, labels.get(key, "")) for key, value in matchers.items())
            ]
            assert matching, f"{rule['alert']}: no exported {name} matches {matchers}: {samples.get(name)}"
            checked += 1
    assert checked >= 5, checked
