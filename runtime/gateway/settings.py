"""Process settings of the gateway (environment, prefix ``ML_SERVING_GATEWAY_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ML_SERVING_GATEWAY_", extra="ignore", frozen=True)

    tokens: str | None = None
    """Bearer tokens, comma-separated (``ML_SERVING_GATEWAY_TOKENS``)."""
    tokens_file: str | None = None
    """A mounted secret holding tokens, comma- or line-separated (``ML_SERVING_GATEWAY_TOKENS_FILE``)."""
    grpc_port: int | None = Field(default=None, ge=0, le=65535)
    """Port of the V2 gRPC service (0 picks a free one); unset serves REST only."""
    grpc_host: str = "127.0.0.1"
    """Address the gRPC service binds (the REST one is uvicorn's ``--host``)."""
    monitor_token: str | None = None
    """The drift monitor's writer token the tap sends (``ML_SERVING_GATEWAY_MONITOR_TOKEN``)."""
    monitor_token_file: str | None = None
    """A mounted secret holding it, shared with the monitor (``ML_SERVING_GATEWAY_MONITOR_TOKEN_FILE``)."""
    http_client: Literal["aiohttp", "httpx"] = "aiohttp"
    """Client used to call model servers; aiohttp measured faster (bench/gateway.py)."""
    read_timeout_s: float = Field(default=30.0, gt=0)
    """Longest a client's request may take to arrive, headers and body (runtime/httplimits.py);
    then 408 and the connection closed (``ML_SERVING_GATEWAY_READ_TIMEOUT_S``)."""
    upstream_connections: int = Field(default=256, gt=0)
    """Most open connections per model server."""
    upstream_timeout_ms: float = Field(default=30_000, gt=0)
    """Longest any call to a model server may take when its caller set no deadline (inference
    calls always have one: the latency budget); a backstop against a peer that never answers."""
    upstream_max_answer_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    """Largest answer read from a model server; a larger one is ``bad_response`` (the fallback
    answers), never held whole (``ML_SERVING_GATEWAY_UPSTREAM_MAX_ANSWER_BYTES``)."""
    coalesce: bool = True
    """Join concurrent calls to one variant into one upstream V2 request (runtime/gateway/coalesce.py):
    measured in bench/gateway.py, it is what keeps the gateway off the critical path at high
    concurrency. The model server then sees the first joined caller's request id."""
    coalesce_max_rows: int = Field(default=64, gt=0)
    """Most rows in one joined upstream request."""
    coalesce_in_flight: int = Field(default=2, gt=0)
    """Most joined upstream requests in flight to one variant at once; later calls queue and are
    joined into the next one."""
    tap_queue_size: int = Field(default=10_000, gt=0)
    """Served requests held for the drift monitor; more are dropped and counted."""
    tap_queue_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    """Bytes of served requests (as the JSON sent to the monitor) held for it; more are dropped
    and counted, so a slow monitor costs records, never the gateway's memory."""
    tap_batch_size: int = Field(default=256, gt=0)
    tap_flush_ms: float = Field(default=200, gt=0)
    """Longest a tap record waits for its batch to fill."""
    tap_timeout_ms: float = Field(default=2000, gt=0)
    """Longest one batch POST to the monitor may take before its records count as dropped."""
