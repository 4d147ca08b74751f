"""The Grafana dashboards query only series the project exports: every metric name in their
expressions is checked against the live ``/metrics`` of a running gateway, and each expression
is parsed by a real Prometheus (promtool's PromQL parser via ``promtool check rules``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from runtime.promote.prometheus import METRICS
from tests.runtime.gateway.conftest import gateway_config, model_spec, peer, serve, v2  # noqa: F401 - peer is a fixture

DASHBOARDS = Path(__file__).resolve().parents[2] / "components" / "dashboards"
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"), "gauge": ("",)}


def _expressions() -> list[tuple[str, str]]:
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            out += [(f"{path.name}: {panel['title']}", target["expr"]) for target in panel["targets"]]
    return out


async def _exported(make_peer) -> set[str]:  # noqa: ANN001
    p = make_peer()
    spec = model_spec(
        variants=[
            {"model": "models:/m/1", "role": "primary", "weight": 100},
            {"model": "models:/m/3", "role": "shadow", "mirrorPercent": 100},
        ]
    )
    async with serve(gateway_config(spec, {"v1": p.url, "v3": p.url})) as client:
        assert (await client.post("/v2/models/m/infer", json=v2([1.0]))).status_code == 200
        text = (await client.get("/metrics")).text
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
    return names


async def test_every_dashboard_and_promotion_query_names_an_exported_metric(peer):  # noqa: F811
    exported = await _exported(peer)
    expressions = _expressions()
    assert len(expressions) >= 7
    for where, expr in expressions:
        for name in re.findall(r"\bml_serving_[a-z_]+", expr):
            assert name in exported, f"{where}: {name} is not on the gateway's /metrics"
    for name in METRICS:
        assert name in exported, f"promotion reads {name}, which the gateway does not export"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is installed by scripts/ensure-tools.sh")
def test_every_dashboard_expression_parses_as_promql(tmp_path):
    rules = [
        {"record": f"dashboard:expr{i}", "expr": expr.replace("$__rate_interval", "5m").replace("$model", "m")}
        for i, (_, expr) in enumerate(_expressions())
    ]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
