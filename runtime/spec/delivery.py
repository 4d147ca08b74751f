"""Deciding between versions from measurements: a sticky A/B experiment and progressive delivery."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from runtime.spec.common import SpecModel


class GuardrailsSpec(SpecModel):
    """Limits arm B must keep against arm A before it may be called the winner (from the gateway)."""

    max_error_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.01
    """Most that B's error rate may exceed A's (0.01: one point)."""
    max_fallback_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.01
    """Most that B's fallback rate may exceed A's."""
    max_p99_ms: Annotated[float, Field(gt=0)] | None = None
    """Highest p99 latency of either arm; the model's latencyBudgetMs when unset."""


class ExperimentSpec(SpecModel):
    """A sticky A/B test between the primary (arm A, the control) and the one canary (arm B)."""

    outcome: Literal["click", "conversion"] = "click"
    """The outcome event whose rate per user decides: a user converts with their first such event."""
    minimum_detectable_lift: Annotated[float, Field(gt=0, le=10)] = 0.05
    """Smallest relative lift of that rate worth finding (0.05: 5%); tunes the sequential test and
    sets the users per arm the readout says it needs."""
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    """False positive rate of the always-valid sequential test, however often it is looked at."""
    power: Annotated[float, Field(ge=0.5, lt=1)] = 0.8
    """Chance of finding the minimum detectable lift at the stated sample size."""
    srm_p_value: Annotated[float, Field(gt=0, lt=0.5)] = 0.001
    """Sample-ratio mismatch is flagged below this p-value (chi-square of users against weights)."""
    max_users: Annotated[int, Field(gt=0)] = 1_000_000
    """Users remembered (bounded memory); later new users are counted as untracked, not analysed."""
    guardrails: GuardrailsSpec = GuardrailsSpec()


class ProgressiveSpec(SpecModel):
    """Automated canary promotion: ``promote --stack <env>`` moves the one canary through ``steps``
    from the fleet's metrics (Prometheus), or rolls it back, as an edit of the stack file."""

    steps: Annotated[list[Annotated[float, Field(gt=0, le=100)]], Field(min_length=1)] = [5, 10, 25, 50, 100]
    """Canary weights in percent, increasing, ending at 100 (there the canary becomes primary)."""
    min_samples_per_step: Annotated[int, Field(gt=0)] = 2000
    """Calls the canary must have answered or failed at a step before it may move to the next."""
    interval_s: Annotated[float, Field(gt=0)] = 300
    """How often promotion is evaluated (the schedule of the promote workflow)."""
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    """False rollback rate of the always-valid sequential error test, however often it is looked at."""
    max_error_rate_increase: Annotated[float, Field(gt=0, le=1)] = 0.01
    """Most that the canary's error rate may exceed the primary's (0.01: one point); promotion
    needs the confidence sequence of the difference to lie below it."""
    max_p99_ratio: Annotated[float, Field(gt=1)] = 1.2
    """Highest canary p99 latency as a multiple of the primary's p99."""
    p99_action: Literal["hold", "rollback"] = "rollback"
    """What a canary over ``maxP99Ratio`` gets once it has the minimum samples."""
    max_fallback_rate: Annotated[float, Field(ge=0, le=1)] = 0.05
    """Highest share of the canary's calls that end in the fallback (the gateway counts fallbacks
    per routed variant); above it (Wilson lower bound) the canary is rolled back."""
    min_shadow_agreement: Annotated[float, Field(gt=0, le=1)] = 0.99
    """A shadow whose agreement with the served answer is at least this (Wilson lower bound), with
    p99 latency within ``maxP99Ratio``, is proposed as the next canary."""

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError(f"steps must increase strictly, got {value}")
        if value[-1] != 100:
            raise ValueError(f"steps must end at 100 (where the canary becomes primary), got {value}")
        return value
