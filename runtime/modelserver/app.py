"""The model server process: settings, load and warm the model, serve until SIGTERM."""

from __future__ import annotations

import logging
import os
import sys

from prometheus_client import Gauge
from pydantic import ValidationError

from runtime.errors import MLServingError, validation_problems
from runtime.modelserver.model import MLflowModel
from runtime.modelserver.server import ServingModelServer
from runtime.modelserver.settings import parse_settings
from runtime.modelserver.threads import THREAD_ENV, loaded_limits

__all__ = ["main", "PREDICT_THREADS"]

PREDICT_THREADS = Gauge(
    "ml_serving_predict_threads",
    "Threads a predict call may use, per thread pool library the model loaded (openmp, blas), as it reports.",
    ["model", "library"],
)


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_settings(argv)
    except ValidationError as exc:
        for line in validation_problems(exc.errors(include_url=False), root="settings"):
            print(f"error: {line}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"loading model '{settings.model_name}' from {settings.model_dir}", file=sys.stderr, flush=True)
    model = MLflowModel(settings.model_name, settings.model_dir, settings.max_batch_size, settings.max_latency_ms)
    try:
        model.load()
    except MLServingError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:  # MLflow raises many kinds; the operator needs the message, not a trace
        print(
            f"error: cannot load model '{settings.model_name}' from {settings.model_dir}: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 1
    pools = loaded_limits()
    for library, count in pools.items():
        PREDICT_THREADS.labels(settings.model_name, library).set(count)
    threads = ", ".join(f"{library} {count}" for library, count in sorted(pools.items())) or "no thread pools loaded"
    print(f"predict threads: {threads} ({THREAD_ENV[0]}={os.environ.get(THREAD_ENV[0], 'unset')})", file=sys.stderr)
    batching = (
        f"batching {settings.max_batch_size} rows / {settings.max_latency_ms:g} ms"
        if settings.max_batch_size
        else "no batching"
    )
    print(
        f"model '{settings.model_name}' ready ({batching}); serving on http://{settings.host}:{settings.http_port}"
        + (f" and grpc://{settings.host}:{settings.grpc_port}" if settings.grpc_port is not None else ""),
        file=sys.stderr,
        flush=True,
    )
    server = ServingModelServer(
        host=settings.host,
        http_port=settings.http_port,
        max_body_bytes=settings.max_body_bytes,
        grace_period_s=settings.grace_period_s,
        grpc_port=settings.grpc_port,
        read_timeout_s=settings.read_timeout_s,
    )
    server.start([model])
    return 0
