"""Shadows that agree with the served answers and keep within the latency guardrail are
proposed as the next canary (a proposal in the evidence, not an edit: a person picks it)."""

from __future__ import annotations

import math

from runtime.decisions import proportion_interval
from runtime.promote.analysis import StepCounts
from runtime.spec import ModelSpec

__all__ = ["shadow_proposals"]


def shadow_proposals(model: str, spec: ModelSpec, shadows: dict[str, dict[str, float]], live: StepCounts) -> list[dict]:
    progressive = spec.progressive
    out: list[dict] = []
    if progressive is None:  # proposals follow the progressive block's thresholds
        return out
    for variant in spec.shadows:
        seen = shadows.get(variant.variant_name)
        if not seen or seen["compared"] < progressive.min_samples_per_step:
            continue
        agreement = proportion_interval(seen["agreed"], seen["compared"], progressive.alpha)
        ratio = (
            seen["p99_s"] / live.primary_p99_s
            if live.primary_p99_s and not math.isnan(live.primary_p99_s)
            else math.nan
        )
        if agreement.low >= progressive.min_shadow_agreement and ratio <= progressive.max_p99_ratio:
            out.append(
                {
                    "model": model,
                    "variant": variant.variant_name,
                    "uri": variant.model,
                    "agreementLow": agreement.low,
                    "p99Ratio": ratio,
                    "compared": seen["compared"],
                    "reason": f"shadow {variant.variant_name} ({variant.model}) agrees {agreement.estimate:.4f} "
                    f"(lower bound {agreement.low:.4f}) on {seen['compared']:g} answers, p99 {ratio:.2f}x the primary's: "
                    f"propose it as a canary at {progressive.steps[0]:g}",
                }
            )
    return out
