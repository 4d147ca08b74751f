"""Prometheus histograms of the batcher, served on the model server's ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["BATCH_ROWS", "BATCH_REQUESTS", "QUEUE_WAIT", "BATCH_RETRIES", "BATCH_EXPIRED"]

BATCH_ROWS = Histogram(
    "ml_serving_batch_rows",
    "Rows per predict call.",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
)
BATCH_REQUESTS = Histogram(
    "ml_serving_batch_requests",
    "Requests joined into one predict call.",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
QUEUE_WAIT = Histogram(
    "ml_serving_queue_wait_seconds",
    "Time a request waited in the batch queue before its predict started.",
    ["model"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)
BATCH_EXPIRED = Counter(
    "ml_serving_batch_expired",
    "Requests whose timeout ran out in the batch queue (their caller had stopped waiting); not predicted.",
    ["model"],
)
BATCH_RETRIES = Counter(
    "ml_serving_batch_retries",
    "Batches whose predict failed and were retried one request at a time.",
    ["model"],
)
