"""The local Prometheus configuration, checked by promtool (Debian's prometheus package)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from runtime.alerting import ALERT_RULE_FILES
from runtime.local.layout import Layout, LocalSettings
from runtime.local.parts import gateway_part, model_server_part, monitor_part
from runtime.local.prometheus import prometheus_part, scrape_targets, write_prometheus_config
from runtime.spec import load_stack


@pytest.fixture
def layout(tmp_path):
    return Layout.resolve(load_stack("local"), LocalSettings(state_dir=tmp_path, prometheus_port=29090))


def test_every_part_is_a_scrape_target_grouped_by_kind(layout, tmp_path):
    parts = [model_server_part(layout, slot) for slot in layout.slots]
    parts += [monitor_part(layout, tmp_path / "t"), gateway_part(layout, None)]
    targets = scrape_targets(layout, parts)
    assert targets["gateway"] == [f"127.0.0.1:{layout.gateway_port}"]
    assert targets["drift-monitor"] == [f"127.0.0.1:{layout.monitor_port}"]
    assert sorted(targets["model-servers"]) == sorted(f"127.0.0.1:{slot.port}" for slot in layout.slots)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is installed by scripts/ensure-tools.sh")
def test_promtool_accepts_the_config_and_its_alert_rules(layout, tmp_path):
    path = write_prometheus_config(tmp_path / "prometheus.yml", {"gateway": ["127.0.0.1:8080"]}, scrape_interval_s=0.5)
    result = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout
    for path in ALERT_RULE_FILES:
        assert f"{path}\n  SUCCESS" in result.stdout, result.stdout  # every shipped rule file, loaded and valid


def test_the_part_listens_where_the_layout_says(layout, tmp_path):
    part = prometheus_part(
        "/usr/bin/prometheus", tmp_path / "p.yml", tmp_path / "data", layout.host, layout.prometheus_port
    )
    assert part.ready_url == "http://127.0.0.1:29090/-/ready"
    assert "--web.listen-address=127.0.0.1:29090" in part.argv
    assert layout.prometheus_url == "http://127.0.0.1:29090"
