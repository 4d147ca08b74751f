"""The counts of a step, by PromQL over Prometheus's HTTP API, summed across gateway replicas.

A step's weight reaches the gateways as a new spec, which rolls their pods (the spec's checksum
is on the pod template; ``make up`` restarts them), so the counters the live replicas export are
the counts since the step began: the queries sum them as they stand. ``window_s`` instead takes
the ``increase`` over the last that many seconds (a Prometheus whose gateways were not restarted).

A call to a variant is an answer it served or a failed call to its model server (the gateway
then retries the primary or falls back); its error rate is failures over calls, and its fallback
rate the fallbacks of the requests routed to it over its calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from runtime.promote.analysis import StepCounts
from runtime.promote.errors import PrometheusError

__all__ = [
    "PrometheusError",
    "Prometheus",
    "METRICS",
    "OUTCOME_METRICS",
    "step_counts",
    "shadow_counts",
    "outcome_counts",
]

REQUESTS = "ml_serving_gateway_requests_total"
FAILURES = "ml_serving_gateway_upstream_failures_total"
LATENCY = "ml_serving_gateway_request_duration_seconds_bucket"
FALLBACKS = "ml_serving_gateway_fallbacks_total"
SHADOW_COMPARISONS = "ml_serving_gateway_shadow_comparisons_total"
SHADOW_LATENCY = "ml_serving_gateway_shadow_duration_seconds_bucket"

METRICS = (REQUESTS, FAILURES, LATENCY, FALLBACKS, SHADOW_COMPARISONS, SHADOW_LATENCY)
"""Every gateway series promotion reads (a test checks them against a live gateway's ``/metrics``)."""
USERS = "ml_serving_experiment_users"
CONVERSIONS = "ml_serving_experiment_conversions"
OUTCOME_METRICS = (USERS, CONVERSIONS)
"""The experiment's per-arm counts, exported by the drift monitor (the A/B outcome guardrail)."""


def _selector(metric: str, model: str, extra: str = "") -> str:
    labels = f'model="{model}"' + (f",{extra}" if extra else "")
    return f"{metric}{{{labels}}}"


def _over(expr: str, window_s: float | None) -> str:
    return expr if window_s is None else f"increase({expr}[{int(math.ceil(window_s))}s])"


@dataclass(frozen=True)
class Prometheus:
    url: str
    timeout_s: float = 10.0

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector (Prometheus's ``/api/v1/query``)."""
        try:
            response = httpx.get(
                f"{self.url.rstrip('/')}/api/v1/query", params={"query": promql}, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            raise PrometheusError(
                f"Prometheus at {self.url} could not be reached ({exc}); pass --prometheus URL"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(
                f"Prometheus at {self.url} refused {promql!r}: HTTP {response.status_code} {body.get('error', response.text[:200])}"
            )
        return body["data"]["result"]

    def by(self, label: str, promql: str) -> dict[str, float]:
        return {row["metric"].get(label, ""): float(row["value"][1]) for row in self.query(promql)}


def _sum_by_variant(
    prom: Prometheus, metric: str, model: str, window_s: float | None, extra: str = ""
) -> dict[str, float]:
    return prom.by("variant", f"sum by (variant) ({_over(_selector(metric, model, extra), window_s)})")


def _p99_by_variant(prom: Prometheus, metric: str, model: str, window_s: float | None) -> dict[str, float]:
    buckets = _over(_selector(metric, model), window_s)
    return prom.by("variant", f"histogram_quantile(0.99, sum by (variant, le) ({buckets}))")


def _total(prom: Prometheus, promql: str) -> float:
    rows = prom.query(promql)
    return float(rows[0]["value"][1]) if rows else 0.0


def step_counts(prom: Prometheus, model: str, primary: str, canary: str, window_s: float | None = None) -> StepCounts:
    """The current step's counts of ``model``'s primary and canary variants."""
    answered = _sum_by_variant(prom, REQUESTS, model, window_s, 'outcome="ok"')
    failed = _sum_by_variant(prom, FAILURES, model, window_s)
    p99 = _p99_by_variant(prom, LATENCY, model, window_s)
    fallbacks = _sum_by_variant(prom, FALLBACKS, model, window_s)

    def calls(variant: str) -> float:
        return answered.get(variant, 0.0) + failed.get(variant, 0.0)

    return StepCounts(
        primary_calls=calls(primary),
        primary_errors=failed.get(primary, 0.0),
        canary_calls=calls(canary),
        canary_errors=failed.get(canary, 0.0),
        canary_fallbacks=fallbacks.get(canary, 0.0),
        primary_p99_s=p99.get(primary, math.nan),
        canary_p99_s=p99.get(canary, math.nan),
    )


def shadow_counts(prom: Prometheus, model: str, window_s: float | None = None) -> dict[str, dict[str, float]]:
    """Per shadow variant: compared, agreed, and its p99 latency in seconds."""
    rows = prom.query(f"sum by (variant, agreed) ({_over(_selector(SHADOW_COMPARISONS, model), window_s)})")
    p99 = _p99_by_variant(prom, SHADOW_LATENCY, model, window_s)
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        entry = out.setdefault(row["metric"].get("variant", ""), {"compared": 0.0, "agreed": 0.0})
        value = float(row["value"][1])
        entry["compared"] += value
        if row["metric"].get("agreed") == "true":
            entry["agreed"] += value
    for variant, entry in out.items():
        entry["p99_s"] = p99.get(variant, math.nan)
    return out


def outcome_counts(prom: Prometheus, model: str, primary: str, canary: str) -> dict[str, float]:
    """Users and converted users of the experiment's two arms, since the experiment began (the
    drift monitor counts each user in the arm of their first exposure)."""
    users = prom.by("variant", f"sum by (variant) ({_selector(USERS, model)})")
    conversions = prom.by("variant", f"sum by (variant) ({_selector(CONVERSIONS, model)})")
    return {
        "primary_users": users.get(primary, 0.0),
        "primary_conversions": conversions.get(primary, 0.0),
        "canary_users": users.get(canary, 0.0),
        "canary_conversions": conversions.get(canary, 0.0),
    }


def outcome_tau(counts: dict[str, float], minimum_detectable_lift: float) -> float | None:
    """The outcome test's mixture scale: the experiment's minimum detectable lift of the primary's
    rate, in rate units; None while the primary has no conversions to scale it by."""
    if counts["primary_users"] <= 0 or counts["primary_conversions"] <= 0:
        return None
    return minimum_detectable_lift * counts["primary_conversions"] / counts["primary_users"]
