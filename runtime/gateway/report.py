"""The promotion report of a model: what a reviewer needs to promote or roll back a canary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.gateway.stats import ModelStats, percentile

__all__ = ["build_report"]


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _ms(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def build_report(
    model: str, stats: ModelStats, roles: Mapping[str, str], weights: Mapping[str, float | None]
) -> dict[str, Any]:
    variants = []
    for name, s in stats.variants.items():
        latencies = list(s.latencies_ms)
        variants.append(
            {
                "variant": name,
                "role": roles[name],
                "weight": weights.get(name),
                "requests": s.routed,
                "calls": s.calls,
                "served": s.served,
                "errors": s.errors,
                "error_rate": _ratio(s.errors, s.calls),
                "fallbacks": s.fallbacks,
                "fallback_rate": _ratio(s.fallbacks, s.routed),
                "p50_ms": _ms(percentile(latencies, 50)),
                "p99_ms": _ms(percentile(latencies, 99)),
            }
        )
    shadows = []
    for name, shadow in stats.shadows.items():
        latencies = list(shadow.latencies_ms)
        shadows.append(
            {
                "variant": name,
                "role": "shadow",
                "mirrored": shadow.mirrored,
                "dropped": shadow.dropped,
                "errors": shadow.errors,
                "error_rate": _ratio(shadow.errors, shadow.mirrored),
                "compared": shadow.compared,
                "agreement": _ratio(shadow.agreed, shadow.compared),
                "p50_ms": _ms(percentile(latencies, 50)),
                "p99_ms": _ms(percentile(latencies, 99)),
            }
        )
    return {
        "model": model,
        "requests": stats.requests,
        "fallbacks": stats.fallbacks,
        "fallback_rate": _ratio(stats.fallbacks, stats.requests),
        "unanswered": stats.unanswered,
        "variants": variants,
        "shadows": shadows,
        "scope": "this gateway replica, since it started",
    }
