"""Settings of the model server process: command line over ``ML_SERVING_*`` environment."""

from __future__ import annotations

import argparse
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ModelServerSettings", "parse_settings"]


class ModelServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ML_SERVING_", extra="forbid", protected_namespaces=())

    model_name: Annotated[str, Field(min_length=1)]
    """Name the model is served under: ``/v2/models/<model_name>/infer``."""
    model_dir: Annotated[str, Field(min_length=1)]
    """``models:/<name>/<version>``, ``models:/<name>@<alias>`` (via MLFLOW_TRACKING_URI) or a model folder."""
    host: str = "127.0.0.1"
    """Address to bind; loopback unless the cluster asks for 0.0.0.0."""
    http_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    grpc_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    """Port of the V2 gRPC service (KServe's own gRPC server); unset serves REST only."""
    max_batch_size: Annotated[int, Field(gt=0, le=4096)] | None = None
    """Most rows in one predict call; unset serves each request alone."""
    max_latency_ms: Annotated[float, Field(gt=0, le=1000)] | None = None
    """Longest a request is held to gather a batch, from the first waiting request."""
    max_body_bytes: Annotated[int, Field(gt=0)] = 4 * 1024 * 1024
    """Larger request bodies get 413."""
    grace_period_s: Annotated[int, Field(ge=1)] = 30
    """Longest a SIGTERM drain may take."""
    read_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    """Longest a request may take to arrive, headers and body (runtime/httplimits.py); then 408."""
    predict_threads: Annotated[int, Field(gt=0)] | None = None
    """Threads one predict call may use (OpenMP, BLAS); unset: ``OMP_NUM_THREADS`` when given,
    else the cores this process may use. Applied at start-up (runtime/modelserver/threads.py)."""

    @model_validator(mode="after")
    def _batching_pair(self) -> ModelServerSettings:
        if (self.max_batch_size is None) != (self.max_latency_ms is None):
            raise ValueError(
                "batching needs both max_batch_size and max_latency_ms (or neither, to serve each request alone)"
            )
        return self


def parse_settings(argv: list[str] | None = None) -> ModelServerSettings:
    """Settings from the command line (as documented in runtime/wiring.py), then the environment."""
    parser = argparse.ArgumentParser(
        prog="python -m runtime.modelserver", description="Serve one MLflow model over the V2 protocol."
    )
    parser.add_argument("--model_name")
    parser.add_argument("--model_dir")
    parser.add_argument("--host")
    parser.add_argument("--http_port", type=int)
    parser.add_argument("--grpc_port", type=int)
    parser.add_argument("--max_batch_size", type=int)
    parser.add_argument("--max_latency_ms", type=float)
    parser.add_argument("--max_body_bytes", type=int)
    parser.add_argument("--grace_period_s", type=int)
    parser.add_argument("--read_timeout_s", type=float)
    parser.add_argument("--predict_threads", type=int)
    args, _ = parser.parse_known_args(argv)  # KServe's own flags (e.g. --workers) may be present too
    return ModelServerSettings(**{k: v for k, v in vars(args).items() if v is not None})
