"""The experiments' HTTP routes on the drift monitor, and their Prometheus metrics.

- ``POST /outcomes/{model}``: ``{"outcomes": [{"kind": "click"|"conversion", "userId"|"requestId",
  "timestamp": unix seconds, "value": optional number, "itemId": optional}]}``; the monitor's
  bearer token; at most ``MAX_OUTCOME_BYTES`` per body.
- ``GET /experiments/{model}``: the readout as JSON; ``GET /experiments/{model}/report``: as HTML.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from runtime.bodylimit import read_limited
from runtime.errors import InvalidInput, validation_problems
from runtime.experiments.readout import DECISIONS, build_readout
from runtime.experiments.report import render_readout
from runtime.experiments.service import ExperimentService

__all__ = ["add_experiment_routes", "ExperimentCollector", "OutcomeBatch", "MAX_OUTCOME_BYTES", "OUTCOMES_PATH"]

MAX_OUTCOME_BYTES = 1_048_576
OUTCOMES_PATH = "/outcomes/{model}"


class OutcomeEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)
    kind: Literal["click", "conversion"]
    user_id: str | None = None
    request_id: str | None = None
    timestamp: float = Field(gt=0)
    """Unix seconds when the outcome happened."""
    value: float = 0.0
    """Revenue-like value of the event (0 when it has none)."""
    item_id: str | int | None = None

    @field_validator("user_id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _joinable(self) -> OutcomeEvent:
        if self.user_id is None and self.request_id is None:
            raise ValueError("needs userId or requestId to join the event to the arm that served it")
        if not math.isfinite(self.value) or not math.isfinite(self.timestamp):
            raise ValueError("timestamp and value must be finite numbers")
        return self


class OutcomeBatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    outcomes: list[OutcomeEvent] = Field(min_length=1, max_length=10_000)


def add_experiment_routes(app: FastAPI, service: ExperimentService, guard: Sequence[Any] = ()) -> None:
    """``guard``: dependencies of every route (the monitor's bearer-token check, as for its other
    writers and readers)."""

    @app.post(OUTCOMES_PATH, status_code=202, dependencies=list(guard))
    async def post_outcomes(model: str, request: Request) -> dict[str, Any]:
        service.store(model)
        try:
            batch = OutcomeBatch.model_validate_json(await read_limited(request, MAX_OUTCOME_BYTES))
        except ValidationError as exc:
            raise InvalidInput("; ".join(validation_problems(exc.errors(include_url=False), root="body"))) from None
        joined, unknown = service.outcomes(model, batch.outcomes)
        return {"joined": joined, "unknown": unknown}

    @app.get("/experiments/{model}", dependencies=list(guard))
    async def readout(model: str) -> dict[str, Any]:
        return await service.readout(model)

    @app.get("/experiments/{model}/report", response_class=HTMLResponse, dependencies=list(guard))
    async def report(model: str) -> HTMLResponse:
        return HTMLResponse(render_readout(await service.readout(model)))


class ExperimentCollector:
    """Per experiment and arm: users, exposures, conversions and rate; the lift with its interval,
    the always-valid p-value, the SRM p-value and the decision (one series per decision, 1 for the
    current one). Guardrails come from the gateway's own metrics."""

    def __init__(self, service: ExperimentService) -> None:
        self.service = service

    def collect(self):
        prefix = "ml_serving_experiment_"
        arm_metrics = {
            name: GaugeMetricFamily(f"{prefix}{name}", help_, labels=["model", "arm", "variant"])
            for name, help_ in (
                ("users", "Users assigned to the arm (by their first exposure)."),
                ("exposures", "Answers served to the arm's users."),
                ("conversions", "Users of the arm with at least one outcome of the experiment's kind."),
                ("conversion_rate", "Share of the arm's users who converted."),
                ("revenue_per_user", "Mean value of outcomes per user of the arm."),
            )
        }
        model_metrics = {
            name: GaugeMetricFamily(f"{prefix}{name}", help_, labels=["model"])
            for name, help_ in (
                ("lift", "Relative lift of B's conversion rate over A's."),
                ("lift_low", "Lower end of the lift's 95% interval."),
                ("lift_high", "Upper end of the lift's 95% interval."),
                ("sequential_p_value", "Always-valid p-value of equal rates (mSPRT)."),
                ("srm_p_value", "Chi-square p-value of users per arm against the declared weights."),
                ("required_users_per_arm", "Users per arm the test needs to find the minimum detectable lift."),
            )
        }
        decision = GaugeMetricFamily(
            f"{prefix}decision", "The readout's decision (1 for the current one).", labels=["model", "decision"]
        )
        for model, store in self.service.stores.items():
            r = build_readout(model, self.service.config.models[model], store)
            for label, arm in r["arms"].items():
                values = {
                    "users": arm["users"],
                    "exposures": arm["exposures"],
                    "conversions": arm["conversions"],
                    "conversion_rate": arm["conversion_rate"]["estimate"],
                    "revenue_per_user": arm["revenue_per_user"]["estimate"],
                }
                for name, value in values.items():
                    arm_metrics[name].add_metric([model, label, arm["variant"]], math.nan if value is None else value)
            seq = r["sequential"]
            for name, value in (
                ("lift", r["lift"]["estimate"]),
                ("lift_low", r["lift"]["low"]),
                ("lift_high", r["lift"]["high"]),
                ("sequential_p_value", seq["p_value"] if seq else 1.0),
                ("srm_p_value", r["srm"]["p_value"]),
                ("required_users_per_arm", r["required_users_per_arm"]),
            ):
                model_metrics[name].add_metric([model], math.nan if value is None else value)
            for name in DECISIONS:
                decision.add_metric([model, name], 1.0 if r["decision"] == name else 0.0)
        yield from arm_metrics.values()
        yield from model_metrics.values()
        yield decision
