"""The configuration files the local platform hands its gateway and drift monitor.

The same contracts (``runtime.wiring``) the cluster writes into ConfigMaps, here as files in the
state folder, with loopback endpoints instead of in-cluster service names.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from runtime.local.layout import Layout
from runtime.wiring import GatewayConfig, MonitorConfig, VariantEndpoint

__all__ = ["gateway_config", "monitor_config", "write_configs", "gateway_token", "monitor_token", "read_token"]


def gateway_config(layout: Layout) -> GatewayConfig:
    endpoints: dict[str, dict[str, VariantEndpoint]] = {}
    for slot in layout.slots:
        endpoints.setdefault(slot.model, {})[slot.variant] = VariantEndpoint(
            url=layout.url(slot.port), model_name=slot.served_name
        )
    gateway = layout.spec.platform.gateway
    return GatewayConfig(
        stack=layout.spec.stack,
        models=layout.spec.models,
        endpoints=endpoints,
        monitor_url=layout.monitor_url,
        auth_required=gateway.auth_required,
        max_body_bytes=gateway.max_body_bytes,
    )


def monitor_config(layout: Layout, profiles: dict[str, dict[str, str]]) -> MonitorConfig:
    return MonitorConfig(
        stack=layout.spec.stack,
        models=layout.spec.models,
        profiles=profiles,
        state_dir=str(layout.monitor_state_dir),
        gateway_url=layout.gateway_url,
    )


def gateway_token(layout: Layout) -> Path:
    """A bearer token for the local gateway, made once and kept (readable by the owner only)."""
    return _token(layout.state_dir / "gateway-token")


def monitor_token(layout: Layout) -> Path:
    """The drift monitor's token, shared by the monitor and the gateway's tap (in the cluster: one
    Kubernetes Secret), made once and kept (readable by the owner only)."""
    return _token(layout.state_dir / "monitor-token")


def read_token(path: Path) -> str:
    return path.read_text().strip()


def _token(path: Path) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24))
    return path


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_configs(layout: Layout, profiles: dict[str, dict[str, str]]) -> None:
    _write(layout.gateway_config_path, gateway_config(layout).model_dump_json(by_alias=True, indent=2))
    _write(layout.monitor_config_path, monitor_config(layout, profiles).model_dump_json(by_alias=True, indent=2))
    layout.monitor_state_dir.mkdir(parents=True, exist_ok=True)
