"""The local platform: the stack's rollouts as supervised processes on loopback.

Order of start-up: MLflow; the versions the stack names (trained and registered when missing)
and their reference profiles; then every model server, the drift monitor and the gateway
together.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runtime.local.configs import gateway_token, monitor_token, write_configs
from runtime.local.layout import Layout
from runtime.local.parts import gateway_part, mlflow_part, model_server_part, monitor_part
from runtime.local.process import PartSpec, check_port_free
from runtime.local.prometheus import prometheus_binary, prometheus_part, scrape_targets, write_prometheus_config
from runtime.local.seed import download_profiles, ensure_versions
from runtime.local.supervisor import Supervisor

__all__ = ["LocalPlatform"]


class LocalPlatform:
    def __init__(self, layout: Layout, say: Callable[[str], None] = print, train_rows: int | None = None) -> None:
        self.layout = layout
        self.say = say
        self.train_rows = train_rows
        self.supervisor = Supervisor(layout.logs_dir, say=say, ready_timeout_s=layout.ready_timeout_s)
        self.token_file = gateway_token(layout) if layout.spec.platform.gateway.auth_required else None
        self.monitor_token_file = monitor_token(layout)
        self.started: list[str] = []
        self.prometheus = prometheus_binary()

    def _services(self) -> list[PartSpec]:
        layout, parts = self.layout, []
        parts += [model_server_part(layout, slot) for slot in layout.slots]
        parts.append(monitor_part(layout, self.monitor_token_file, self.token_file))
        parts.append(gateway_part(layout, self.token_file, self.monitor_token_file))
        if self.prometheus is not None:
            folder = layout.state_dir / "prometheus"
            (folder / "data").mkdir(parents=True, exist_ok=True)
            config = write_prometheus_config(folder / "prometheus.yml", scrape_targets(layout, parts))
            parts.append(prometheus_part(self.prometheus, config, folder / "data", layout.host, layout.prometheus_port))
        return parts

    def up(self) -> None:
        """Start everything and wait until it is ready; on failure everything is stopped again."""
        layout = self.layout
        began = time.monotonic()
        self.say(f"ml-serving local platform: stack '{layout.spec.stack}', state in {layout.state_dir}")
        if self.prometheus is None:
            self.say(
                "  prometheus is not installed (Debian package 'prometheus', scripts/ensure-tools.sh): "
                "running without it, so `ml-serving promote` has no metrics to read"
            )
        for folder in (layout.state_dir, layout.logs_dir, layout.state_dir / "artifacts"):
            folder.mkdir(parents=True, exist_ok=True)
        mlflow, services = mlflow_part(layout), self._services()
        for spec in (mlflow, *services):
            check_port_free(spec)  # before the slow parts, so a taken port fails at once
        try:
            self.supervisor.start([mlflow])
            self.say("registry:")
            ensure_versions(layout, self.say, rows=self.train_rows)
            profiles = download_profiles(layout, self.say)
            write_configs(layout, profiles)
            self.say(f"services ({len(services)}):")
            self.supervisor.start(services)
        except BaseException:
            self.supervisor.stop()
            raise
        self.started = ["mlflow", *(s.name for s in services)]
        self.supervisor.watch()
        self.say(f"ready in {time.monotonic() - began:.1f} s")

    def down(self) -> None:
        self.supervisor.stop()

    def summary(self) -> str:
        layout = self.layout
        rows = [("MLflow UI", layout.tracking_uri)]
        for model in layout.spec.models:
            rows += [
                (f"gateway: {model} (V2 REST)", f"{layout.gateway_url}/v2/models/{model}/infer"),
                (f"gateway: {model} (V2 gRPC)", f"grpc://{layout.gateway_grpc_address} model_name={model}"),
                (f"rollout report: {model}", f"{layout.gateway_url}/rollouts/{model}/report"),
            ]
        rows.append(("gateway metrics", f"{layout.gateway_url}/metrics"))
        rows += [(f"drift report: {model}", f"{layout.monitor_url}/report/{model}") for model in layout.spec.models]
        rows += [
            (f"A/B readout: {model}", f"{layout.monitor_url}/experiments/{model}/report")
            for model, spec in layout.spec.models.items()
            if spec.experiment is not None
        ]
        rows.append(("drift metrics", f"{layout.monitor_url}/metrics"))
        rows.append(("drift token", f"{self.monitor_token_file} (Authorization: Bearer; all but /metrics, /healthz)"))
        rows += [(f"{slot.part_name} ({slot.role}, {slot.share})", layout.url(slot.port)) for slot in layout.slots]
        if self.prometheus is not None:
            rows.append(("Prometheus (alert rules loaded)", layout.prometheus_url))
        rows.append(("logs", str(layout.logs_dir)))
        width = max(len(name) for name, _ in rows)
        lines = [f"  {name.ljust(width)}  {where}" for name, where in rows]
        return "\n".join(lines)

    def __enter__(self) -> LocalPlatform:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
