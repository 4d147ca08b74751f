"""The Grafana dashboards query only series the project exports: every metric name in their
expressions is checked against the live ``/metrics`` of real processes (a gateway, the drift
monitor it taps and the model server it calls, each started as ``python -m``), and each
expression is parsed by a real Prometheus (promtool's PromQL parser via ``promtool check rules``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from runtime.promote.prometheus import METRICS, OUTCOME_METRICS
from runtime.wiring import MonitorConfig
from tests.ports import free_port
from tests.runtime.gateway.conftest import gateway_config, model_spec
from tests.runtime.modelserver.servers import REPO, features, start_registered_server, v2_columns

DASHBOARDS = REPO / "components" / "dashboards"
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"), "gauge": ("",)}


def _expressions() -> list[tuple[str, str]]:
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            out += [(f"{path.name}: {panel['title']}", target["expr"]) for target in panel["targets"]]
    return out


def _names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
    return names


def _start(module: str, args: list[str], env: dict[str, str], ready: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--port", str(port)],
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, f"{module} exited: {log.read_text(errors='replace')}"
        try:
            if httpx.get(f"{url}{ready}", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{module} not ready: {log.read_text(errors='replace')}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def live_metrics(fraud_registry, tmp_path_factory):
    """Metric names on the ``/metrics`` of a real gateway, drift monitor and model server, after
    traffic through all three (a served model, a shadow, the tap)."""
    root = tmp_path_factory.mktemp("dashboards")
    server = start_registered_server(fraud_registry, root / "server.log", timeout=240)
    processes = []
    try:
        spec = model_spec(
            variants=[
                {"model": "models:/fraud/1", "role": "primary", "weight": 100},
                {"model": "models:/fraud/2", "role": "shadow", "mirrorPercent": 100},
            ],
            latencyBudgetMs=5000,
        )
        monitor = MonitorConfig(stack="test", models={"fraud": spec}, profiles={}, state_dir=str(root / "state"))
        (root / "monitor.json").write_text(monitor.model_dump_json(by_alias=True))
        drift, drift_url = _start(
            "runtime.drift",
            ["--config", str(root / "monitor.json")],
            {"ML_SERVING_DRIFT_TOKENS": "tap-token"},
            "/healthz",
            root / "drift.log",
        )
        processes.append(drift)
        config = gateway_config(spec, {"v1": server.url, "v2": server.url}, model="fraud", monitor_url=drift_url)
        (root / "gateway.json").write_text(config.model_dump_json(by_alias=True))
        gateway, gateway_url = _start(
            "runtime.gateway",
            ["--config", str(root / "gateway.json"), "--host", "127.0.0.1"],
            {"ML_SERVING_GATEWAY_MONITOR_TOKEN": "tap-token"},
            "/v2/health/ready",
            root / "gateway.log",
        )
        processes.append(gateway)
        body = v2_columns(features(3, seed=5))
        for _ in range(5):
            answer = httpx.post(f"{gateway_url}/v2/models/fraud/infer", json=body, timeout=30)
            assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 30
        while "ml_serving_gateway_shadow_comparisons_total" not in httpx.get(f"{gateway_url}/metrics").text:
            assert time.monotonic() < deadline, "the shadow was never compared"
            time.sleep(0.1)
        yield {
            "gateway": _names(httpx.get(f"{gateway_url}/metrics").text),
            "drift monitor": _names(httpx.get(f"{drift_url}/metrics").text),
            "model server": _names(httpx.get(f"{server.url}/metrics").text),
        }
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        server.stop()


@pytest.mark.slow
def test_every_dashboard_and_promotion_query_names_an_exported_metric(live_metrics):
    exported = set().union(*live_metrics.values())
    expressions = _expressions()
    boards = {where.split(":")[0] for where, _ in expressions}
    assert boards >= {"rollouts.json", "drift.json", "model-servers.json"}, boards
    assert len(expressions) >= 25
    for where, expr in expressions:
        for name in re.findall(r"\bml_serving_[a-z_]+", expr):
            assert name in exported, f"{where}: {name} is on no /metrics of the gateway, drift monitor or model server"
    for name in METRICS:
        assert name in live_metrics["gateway"], f"promotion reads {name}, which the gateway does not export"
    for name in OUTCOME_METRICS:
        assert name in live_metrics["drift monitor"], f"promotion reads {name}, which the drift monitor does not export"
    # Each board reads the process it is about.
    assert "ml_serving_batch_rows_bucket" in live_metrics["model server"]
    assert "ml_serving_queue_wait_seconds_bucket" in live_metrics["model server"]
    assert "ml_serving_drift_rows_total" in live_metrics["drift monitor"]


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
