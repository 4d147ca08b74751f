"""Prometheus metrics of the gateway, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "ml_serving_gateway_requests",
            "Answered inference requests by the variant that answered ('fallback' when none did).",
            ["model", "variant", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "ml_serving_gateway_request_duration_seconds",
            "Time from a request's arrival to its answer.",
            ["model", "variant"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "ml_serving_gateway_fallbacks",
            "Fallback answers by the variant the request was routed to and the reason.",
            ["model", "variant", "reason"],
            registry=r,
        )
        self.upstream_failures = Counter(
            "ml_serving_gateway_upstream_failures",
            "Failed calls to a variant's model server by reason.",
            ["model", "variant", "reason"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "ml_serving_gateway_breaker_state",
            "Circuit breaker of a variant: 0 closed, 1 open, 2 half-open.",
            ["model", "variant"],
            registry=r,
        )
        self.shadow_requests = Counter(
            "ml_serving_gateway_shadow_requests",
            "Mirrored requests by outcome (ok, error, dropped).",
            ["model", "variant", "outcome"],
            registry=r,
        )
        self.shadow_agreement = Counter(
            "ml_serving_gateway_shadow_comparisons",
            "Shadow answers compared with the answer served, by whether they agreed.",
            ["model", "variant", "agreed"],
            registry=r,
        )
        self.shadow_latency = Histogram(
            "ml_serving_gateway_shadow_duration_seconds",
            "Latency of mirrored requests.",
            ["model", "variant"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tap_records = Counter(
            "ml_serving_gateway_tap_records",
            "Served requests handed to the drift tap, by outcome (sent, dropped_full, dropped_error).",
            ["outcome"],
            registry=r,
        )
