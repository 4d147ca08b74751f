"""Process settings of the drift monitor (environment, prefix ``ML_SERVING_DRIFT_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MonitorSettings"]


class MonitorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ML_SERVING_DRIFT_", frozen=True)

    reservoir_size: int = Field(default=10_000, gt=0)
    """Rows of each numeric column's uniform sample per window (the KS and Wasserstein input)."""
    persist_interval_s: float = Field(default=1.0, ge=0)
    """Persist a variant's state at most this often while rows arrive (0: after every batch);
    always when a window closes and at shutdown."""
    webhook_url: str | None = None
    """POSTed a JSON event when a variant goes into dataset drift; unset: no webhook.
    Usually a secret (the stack's ``alertWebhookUrl``)."""
    webhook_retries: int = Field(default=5, ge=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_backoff_s: float = Field(default=0.5, ge=0)
    """First retry delay; doubles on each further attempt."""
    webhook_queue: int = Field(default=100, gt=0)
    """Events waiting for delivery; beyond it new events are dropped (and counted), never blocking."""
    label_capacity: int = Field(default=100_000, gt=0)
    """Served predictions remembered per model, waiting for their delayed label."""
    label_bucket_s: float = Field(default=3600.0, gt=0)
    label_buckets: int = Field(default=168, gt=0)
    seed: int = 0
    writer_tokens: str | None = None
    """Bearer tokens of outcome writers, comma-separated (``ML_SERVING_DRIFT_WRITER_TOKENS``);
    without any (here or in the file below) ``POST /outcomes`` is refused."""
    writer_tokens_file: str | None = None
    """A mounted secret holding writer tokens, comma- or line-separated."""
    gateway_token: str | None = None
    """Bearer token for reading the gateway's report (experiment guardrails), when it needs one."""
    experiment_requests: int = Field(default=200_000, gt=0)
    """Recent request ids remembered per experiment, so outcomes can name a request instead of a user."""
