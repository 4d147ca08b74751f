from __future__ import annotations

from pathlib import Path

import pytest

from runtime.local.layout import REPO_ROOT, Layout, LocalSettings
from runtime.spec import load_stack


@pytest.fixture(scope="module")
def spec():
    return load_stack("local")


def test_defaults_come_from_the_stack_file(spec) -> None:
    layout = Layout.resolve(spec, LocalSettings())
    assert layout.state_dir == REPO_ROOT / ".state"
    assert (layout.tracking_uri, layout.gateway_url, layout.monitor_url) == (
        "http://127.0.0.1:5000",
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8090",
    )
    assert [(s.served_name, s.role, s.port, s.uri) for s in layout.slots] == [
        ("fraud-v1", "primary", 9000, "models:/fraud/1"),
        ("fraud-v2", "canary", 9001, "models:/fraud/2"),
        ("fraud-v3", "shadow", 9002, "models:/fraud/3"),
        ("recommender-popular", "primary", 9003, "models:/recommender-popular/1"),
        ("recommender-als", "canary", 9004, "models:/recommender-als/1"),
        ("vision-v1", "primary", 9005, "models:/vision/1"),
        ("vision-v2", "shadow", 9006, "models:/vision/2"),
    ]


def test_environment_overrides_without_touching_the_stack(spec, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ML_SERVING_LOCAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ML_SERVING_LOCAL_GATEWAY_PORT", "18080")
    monkeypatch.setenv("ML_SERVING_LOCAL_MODEL_SERVER_BASE_PORT", "19100")
    layout = Layout.resolve(spec, LocalSettings())
    assert layout.state_dir == tmp_path
    assert layout.gateway_url == "http://127.0.0.1:18080"
    assert layout.mlflow_port == 5000
    assert [s.port for s in layout.slots] == [19100, 19101, 19102, 19103, 19104, 19105, 19106]
    assert layout.logs_dir == tmp_path / "logs"


def test_a_relative_state_dir_is_under_the_repository(spec) -> None:
    layout = Layout.resolve(spec, LocalSettings(state_dir=Path("elsewhere")))
    assert layout.state_dir == REPO_ROOT / "elsewhere"
