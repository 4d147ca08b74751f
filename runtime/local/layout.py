"""Where the local platform keeps its state and where each part listens.

The stack file's ``platform.local`` gives the defaults; ``ML_SERVING_LOCAL_*`` variables or the
command line override them (tests use a temporary state folder and free ports this way) without
touching the stack file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.spec import StackSpec

__all__ = ["LocalSettings", "Layout", "VariantSlot", "REPO_ROOT", "LOCAL_REGISTRY_ENV"]

REPO_ROOT = Path(__file__).resolve().parent.parent.parent

LOCAL_REGISTRY_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
"""How MLflow's client talks to the local registry, where not set already: fail fast, where its
defaults (7 retries with backoff, 120 s a request) would leave a part retrying for minutes
before it says that the registry is down."""


class LocalSettings(BaseSettings):
    """Overrides of the stack's ``platform.local``; unset fields keep the stack's value."""

    model_config = SettingsConfigDict(env_prefix="ML_SERVING_LOCAL_", frozen=True)

    state_dir: Path | None = None
    """State folder (registry, artifacts, configs, logs, monitor state)."""
    mlflow_port: int | None = Field(default=None, ge=1, le=65535)
    gateway_port: int | None = Field(default=None, ge=1, le=65535)
    gateway_grpc_port: int | None = Field(default=None, ge=1, le=65535)
    monitor_port: int | None = Field(default=None, ge=1, le=65535)
    model_server_base_port: int | None = Field(default=None, ge=1, le=65535)
    prometheus_port: int | None = Field(default=None, ge=1, le=65535)
    ready_timeout_s: float = Field(default=180.0, gt=0)
    """Longest one part may take to answer its readiness check (MLflow imports slowly)."""


@dataclass(frozen=True)
class VariantSlot:
    """One model server: a variant of a model, with its port and served name."""

    model: str
    variant: str
    role: str
    uri: str
    port: int
    weight: float | None
    mirror_percent: float | None

    @property
    def served_name(self) -> str:
        # The same name KServe gives the predictor in the cluster: the InferenceService's name.
        return f"{self.model}-{self.variant}"

    @property
    def part_name(self) -> str:
        return f"model-server {self.model}/{self.variant}"

    @property
    def share(self) -> str:
        return f"{self.weight:g}% of traffic" if self.weight is not None else f"{self.mirror_percent:g}% mirrored"


@dataclass(frozen=True)
class Layout:
    spec: StackSpec
    host: str
    state_dir: Path
    mlflow_port: int
    gateway_port: int
    gateway_grpc_port: int
    monitor_port: int
    model_server_base_port: int
    ready_timeout_s: float
    prometheus_port: int = 9090

    @classmethod
    def resolve(cls, spec: StackSpec, settings: LocalSettings | None = None) -> Layout:
        settings = settings or LocalSettings()
        local = spec.platform.local
        state_dir = settings.state_dir or Path(local.state_dir)
        if not state_dir.is_absolute():
            state_dir = REPO_ROOT / state_dir
        return cls(
            spec=spec,
            host=local.host,
            state_dir=state_dir,
            mlflow_port=settings.mlflow_port or local.mlflow_port,
            gateway_port=settings.gateway_port or local.gateway_port,
            gateway_grpc_port=settings.gateway_grpc_port or local.gateway_grpc_port,
            monitor_port=settings.monitor_port or local.monitor_port,
            model_server_base_port=settings.model_server_base_port or local.model_server_base_port,
            ready_timeout_s=settings.ready_timeout_s,
            prometheus_port=settings.prometheus_port or local.prometheus_port,
        )

    def url(self, port: int) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    @property
    def tracking_uri(self) -> str:
        return self.url(self.mlflow_port)

    @property
    def prometheus_url(self) -> str:
        return self.url(self.prometheus_port)

    @property
    def gateway_url(self) -> str:
        return self.url(self.gateway_port)

    @property
    def gateway_grpc_address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.gateway_grpc_port}"

    @property
    def monitor_url(self) -> str:
        return self.url(self.monitor_port)

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def profiles_dir(self) -> Path:
        return self.state_dir / "profiles"

    @property
    def gateway_config_path(self) -> Path:
        return self.state_dir / "gateway.json"

    @property
    def monitor_config_path(self) -> Path:
        return self.state_dir / "monitor.json"

    @property
    def monitor_state_dir(self) -> Path:
        return self.state_dir / "drift"

    @property
    def slots(self) -> list[VariantSlot]:
        """Every variant of every model, in stack order, on consecutive ports."""
        slots = []
        port = self.model_server_base_port
        for model, model_spec in self.spec.models.items():
            for variant in model_spec.variants:
                slots.append(
                    VariantSlot(
                        model=model,
                        variant=variant.variant_name,
                        role=variant.role,
                        uri=variant.model,
                        port=port,
                        weight=variant.weight,
                        mirror_percent=variant.mirror_percent,
                    )
                )
                port += 1
        return slots
