"""What one part of the platform hands another: the contracts between processes.

The same models are written by the Pulumi components (as ConfigMap JSON) and by the local
platform (as files), and read by the gateway and the drift monitor. Only pydantic and the spec.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from runtime.spec import PROJECT, ModelSpec, VariantSpec

__all__ = [
    "VariantEndpoint",
    "GatewayConfig",
    "MonitorConfig",
    "TapRecord",
    "TapBatch",
    "INGEST_PATH",
    "SERVING_RUNTIME_NAME",
    "MODEL_SERVER_PORT",
    "GPU_NODE_LABEL",
    "GPU_TAINT",
    "GATEWAY_SERVICE_ACCOUNT",
    "LINEAGE_ANNOTATION_PREFIX",
    "PART_OF",
    "RUNTIME_UID",
    "app_labels",
    "inference_service_name",
]

INGEST_PATH = "/ingest"
"""Where the drift monitor takes batches of served rows (a ``TapBatch``) from the gateway."""


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class VariantEndpoint(_Wire):
    url: str
    """Base URL of the variant's model server, e.g. ``http://fraud-v5-predictor.ml-serving.svc``."""
    model_name: str
    """Name the model server serves the model under: ``{url}/v2/models/{model_name}/infer``."""


class GatewayConfig(_Wire):
    stack: str
    models: dict[str, ModelSpec]
    """The validated rollout spec of every model the gateway serves."""
    endpoints: dict[str, dict[str, VariantEndpoint]]
    """model -> variant name -> where that variant is served."""
    monitor_url: str | None = None
    """Base URL of the drift monitor; no drift tap when unset."""
    auth_required: bool = True
    max_body_bytes: int = Field(default=1_048_576, gt=0)


class MonitorConfig(_Wire):
    stack: str
    models: dict[str, ModelSpec]
    profiles: dict[str, dict[str, str]] = {}
    """model -> variant name -> reference profile location (a path or an MLflow artifact URI)."""
    state_dir: str = "/var/lib/ml-serving/drift"
    """Where windows and counts are persisted."""
    gateway_url: str | None = None
    """Base URL of the gateway, whose per-variant report gives experiments their guardrails."""


class TapRecord(_Wire):
    """One served request, as the gateway sends it to the drift monitor."""

    model: str
    variant: str
    request_id: str
    timestamp: float
    """Unix seconds when the answer was served."""
    inputs: dict[str, list[Any]]
    """Input name -> one value per row (columnar)."""
    outputs: dict[str, list[Any]] = {}
    """Output name -> one value per row."""
    routing_key: str | None = None
    """The sticky routing key the variant was chosen by (e.g. the user id), when there was one."""


class TapBatch(_Wire):
    records: list[TapRecord]


# --- entry points and cluster conventions ----------------------------------------------------
# One runtime image runs every part. The cluster (components/) and the local platform
# (runtime/local/) start them the same way:
#
#   python -m runtime.modelserver --model_name NAME --model_dir PATH_OR_MODELS_URI
#                                 [--host 0.0.0.0] [--http_port 8080]
#                                 [--max_batch_size N --max_latency_ms MS] [--predict_threads N]
#       env fallbacks: ML_SERVING_MAX_BATCH_SIZE, ML_SERVING_MAX_LATENCY_MS, ML_SERVING_PREDICT_THREADS
#       (unset: OMP_NUM_THREADS, else the cores the CPU quota and affinity allow), MLFLOW_TRACKING_URI
#       ready when GET /v2/health/ready answers 200
#   python -m runtime.gateway --config gateway.json [--host 0.0.0.0] [--port 8080]
#       config: a GatewayConfig as JSON (env ML_SERVING_GATEWAY_CONFIG); bearer tokens from
#       ML_SERVING_GATEWAY_TOKENS (comma-separated) or the file named by ML_SERVING_GATEWAY_TOKENS_FILE
#       ready when GET /v2/health/ready answers 200
#       the drift monitor's writer token (for the tap) from ML_SERVING_GATEWAY_MONITOR_TOKEN(_FILE)
#   python -m runtime.drift --config monitor.json [--host 127.0.0.1] [--port 8090]
#       config: a MonitorConfig as JSON (env ML_SERVING_MONITOR_CONFIG); ready when GET /healthz answers 200;
#       bearer tokens from ML_SERVING_DRIFT_TOKENS or the file named by ML_SERVING_DRIFT_TOKENS_FILE
#       (required for every route but /healthz and /metrics); binds loopback unless --host says otherwise

SERVING_RUNTIME_NAME = "ml-serving-mlflow"
"""The project's ClusterServingRuntime for ``modelFormat: mlflow`` (V2 protocol)."""
MODEL_SERVER_PORT = 8080
"""The model server's HTTP port in a predictor pod (V2 REST and ``/metrics``)."""
GPU_NODE_LABEL = ("ml-serving.io/accelerator", "nvidia")
"""Label of the GPU node group; GPU predictors select on it."""
GPU_TAINT = ("nvidia.com/gpu", "present", "NoSchedule")
"""Taint (key, value, effect) of the GPU node group; GPU predictors tolerate it."""
GATEWAY_SERVICE_ACCOUNT = "ml-serving-gateway"
"""The only identity the AuthorizationPolicy lets call predictors."""
LINEAGE_ANNOTATION_PREFIX = "ml-serving.io/"
"""Lineage annotations on each InferenceService: model-name, model-version, run-id, git-commit,
dataset-digest, artifact-uri."""
PART_OF = {"app.kubernetes.io/part-of": PROJECT}
"""The label every object of the platform carries (Kubernetes' recommended ``part-of`` label)."""
RUNTIME_UID = 10001
"""The non-root user the runtime image runs as (``USER`` in runtime/Dockerfile); pod specs run
its containers as this user and give their volumes to it as ``fsGroup``."""


def app_labels(name: str) -> dict[str, str]:
    """The labels of one part of the platform: its ``app.kubernetes.io/name`` and ``PART_OF``."""
    return {**PART_OF, "app.kubernetes.io/name": name}


def inference_service_name(model: str, variant: VariantSpec) -> str:
    """The InferenceService of a variant, which is also the name its model server serves the model
    under and the name KServe's logger reports (``ce-inferenceservicename``)."""
    return f"{model}-{variant.variant_name}"
