from __future__ import annotations

import stat

from runtime.local.configs import gateway_token, write_configs
from runtime.local.layout import Layout, LocalSettings
from runtime.spec import load_stack
from runtime.wiring import GatewayConfig, MonitorConfig


def _layout(tmp_path) -> Layout:
    settings = LocalSettings(state_dir=tmp_path, gateway_port=18080, model_server_base_port=19000)
    return Layout.resolve(load_stack("local"), settings)


def test_written_configs_wire_each_variant_to_its_model_server(tmp_path) -> None:
    layout = _layout(tmp_path)
    profiles = {"fraud": {"v1": str(tmp_path / "profiles/fraud/v1/reference_profile.json")}}
    write_configs(layout, profiles)

    gateway = GatewayConfig.model_validate_json(layout.gateway_config_path.read_text())
    assert gateway.models == layout.spec.models
    assert {v: (e.url, e.model_name) for v, e in gateway.endpoints["fraud"].items()} == {
        "v1": ("http://127.0.0.1:19000", "fraud-v1"),
        "v2": ("http://127.0.0.1:19001", "fraud-v2"),
        "v3": ("http://127.0.0.1:19002", "fraud-v3"),
    }
    assert gateway.monitor_url == "http://127.0.0.1:8090"
    assert gateway.auth_required is False, "the local stack sets gateway.authRequired: false"

    monitor = MonitorConfig.model_validate_json(layout.monitor_config_path.read_text())
    assert monitor.profiles == profiles
    assert monitor.state_dir == str(tmp_path / "drift") and (tmp_path / "drift").is_dir()


def test_gateway_token_is_made_once_and_private(tmp_path) -> None:
    layout = _layout(tmp_path)
    path = gateway_token(layout)
    token = path.read_text()
    assert len(token) >= 24
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert gateway_token(layout).read_text() == token
