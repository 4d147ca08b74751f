"""A model's rollout: its variants, and how they are batched, sized, scaled, routed, protected and
answered for when none of them can answer."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from runtime.spec.common import DnsName, ModelUri, Quantity, Scalar, SpecModel, parse_model_uri, problem
from runtime.spec.delivery import ExperimentSpec, ProgressiveSpec
from runtime.spec.drift import DriftSpec
from runtime.spec.routing import RoutingSpec


class VariantSpec(SpecModel):
    model: str
    """The registered model version: ``models:/<name>/<version>`` or ``models:/<name>@<alias>``."""
    role: Literal["primary", "canary", "shadow"]
    """primary and canary share live traffic by weight; a shadow gets a mirrored copy only."""
    weight: Annotated[float, Field(ge=0, le=100)] | None = None
    """Percent of live traffic (primary and canary only). Primary and canaries sum to 100."""
    mirror_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    """Percent of live requests mirrored to this shadow (shadow only)."""
    name: DnsName | None = None
    """Variant name used in resource names and responses; defaults to ``v<version>`` or the alias."""

    @field_validator("model")
    @classmethod
    def _uri(cls, value: str) -> str:
        parse_model_uri(value)
        return value

    @model_validator(mode="after")
    def _role_fields(self) -> VariantSpec:
        if self.role == "shadow":
            if self.weight is not None:
                raise problem(
                    "weight", "a shadow variant takes no weight (it gets mirrored traffic only); use mirrorPercent"
                )
            if self.mirror_percent is None:
                raise problem("mirrorPercent", "a shadow variant needs mirrorPercent, a number in (0, 100]")
        else:
            if self.mirror_percent is not None:
                raise problem("mirrorPercent", f"only shadow variants take mirrorPercent; a {self.role} takes weight")
            if self.weight is None:
                raise problem("weight", f"a {self.role} variant needs weight, a number in [0, 100]")
        return self

    @property
    def uri(self) -> ModelUri:
        return parse_model_uri(self.model)

    @property
    def variant_name(self) -> str:
        if self.name:
            return self.name
        uri = self.uri
        if uri.version is not None:
            return f"v{uri.version}"
        return re.sub(r"[^a-z0-9-]", "-", (uri.alias or "").lower()).strip("-") or "alias"


class BatchingSpec(SpecModel):
    max_batch_size: Annotated[int, Field(gt=0, le=4096)]
    """Most rows in one predict call."""
    max_latency_ms: Annotated[float, Field(gt=0, le=1000)]
    """Longest a waiting request is held to gather a batch, from the first waiting request."""


class ResourcesSpec(SpecModel):
    cpu: Quantity = "1"
    """CPU request and limit, as a Kubernetes quantity."""
    memory: Quantity = "2Gi"
    """Memory request and limit, as a Kubernetes quantity."""
    gpu: Annotated[int, Field(ge=0, le=8)] = 0
    """NVIDIA GPUs per replica; above 0 the predictor lands on the GPU node group."""
    half_precision: bool = False
    """Run a torch model in FP16 when it is on a GPU (ignored on a CPU, where FP16 is slower)."""


class AutoscalingSpec(SpecModel):
    min: Annotated[int, Field(ge=0)] = 1
    """Fewest replicas per variant (0 lets an idle variant scale to zero)."""
    max: Annotated[int, Field(ge=1)] = 3
    """Most replicas per variant."""
    target_concurrency: Annotated[int, Field(gt=0)] | None = None
    """In-flight requests per replica that the autoscaler aims for; CPU utilisation when unset."""

    @model_validator(mode="after")
    def _order(self) -> AutoscalingSpec:
        if self.min > self.max:
            raise problem("min", f"min ({self.min}) must not exceed max ({self.max})")
        return self


class FallbackConditionSpec(SpecModel):
    input: Annotated[str, StringConstraints(min_length=1)]
    """Input name whose value (per row) is compared."""
    op: Literal["lt", "le", "gt", "ge", "eq", "ne", "in"]
    value: Scalar | list[Scalar]
    """Operand: a scalar, or a list for ``in``."""

    @model_validator(mode="after")
    def _operand(self) -> FallbackConditionSpec:
        if (self.op == "in") != isinstance(self.value, list):
            expected = "a list" if self.op == "in" else "a single value"
            raise problem("value", f"op '{self.op}' takes {expected}")
        return self


class FallbackRuleSpec(SpecModel):
    when: FallbackConditionSpec
    then: Scalar
    """Output for a row that matches."""


class FallbackSpec(SpecModel):
    value: Scalar
    """Output for every row that no rule matches (e.g. 0, "not fraud")."""
    rules: list[FallbackRuleSpec] = []
    """Checked in order per row; the first match gives the row's output. No code is evaluated."""


class CircuitBreakerSpec(SpecModel):
    failure_threshold: Annotated[int, Field(gt=0)] = 5
    """Consecutive failures that open the breaker of a variant; calls that were out together and
    fail together (a burst of timeouts) count as one (runtime/gateway/breaker.py)."""
    cooldown_ms: Annotated[float, Field(gt=0)] = 5000
    """How long an open breaker rejects calls before one half-open probe."""
    failure_rate_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    """Also open when this share of the last ``window_calls`` calls failed (at least
    ``minimum_calls`` of them made): at thousands of requests per second a steady few-percent
    error rate makes runs of consecutive failures common, so set ``failure_threshold`` high and
    trip on the rate instead. Unset: consecutive failures only."""
    window_calls: Annotated[int, Field(gt=0)] = 100
    """Calls the failure rate is measured over (the most recent ones)."""
    minimum_calls: Annotated[int, Field(gt=0)] = 20
    """Calls in the window before the failure rate may open the breaker."""

    @model_validator(mode="after")
    def _minimum_fits_the_window(self) -> CircuitBreakerSpec:
        if self.minimum_calls > self.window_calls:
            raise problem(
                "minimumCalls",
                f"is {self.minimum_calls} but the window holds {self.window_calls} calls; expected at most windowCalls",
            )
        return self


class ShadowSpec(SpecModel):
    max_concurrency: Annotated[int, Field(gt=0)] = 16
    """In-flight mirrored requests per model; more are dropped and counted."""
    timeout_ms: Annotated[float, Field(gt=0)] = 1000
    """Longest a mirrored request may take before it counts as an error."""
    compare_outputs: Annotated[list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)] | None = None
    """Outputs a shadow must match for its answer to agree (all when unset), e.g. ``[class]`` for a
    classifier whose scores always differ a little between versions."""


class ModelSpec(SpecModel):
    variants: Annotated[list[VariantSpec], Field(min_length=1)]
    """Versions served: exactly one primary, any canaries, any shadows."""
    latency_budget_ms: Annotated[float, Field(gt=0)]
    """The whole answer, retries included, within this many milliseconds; then the fallback."""
    fallback: FallbackSpec | None = None
    """Answer given when no variant answers within the budget; without it such a request fails (503)."""
    batching: BatchingSpec | None = None
    """Adaptive batching in the model server; unset serves each request alone."""
    resources: ResourcesSpec = ResourcesSpec()
    autoscaling: AutoscalingSpec = AutoscalingSpec()
    routing: RoutingSpec = RoutingSpec()
    circuit_breaker: CircuitBreakerSpec = CircuitBreakerSpec()
    shadow: ShadowSpec = ShadowSpec()
    drift: DriftSpec = DriftSpec()
    expected_rps: Annotated[float, Field(ge=0)] | None = None
    """Expected live requests per second, averaged over a month (the cost estimate sizes the
    variants' replicas from it and prices a million predictions)."""
    replica_rps: Annotated[float, Field(gt=0)] | None = None
    """Requests per second one replica sustains within the latency budget (measured, e.g. with
    bench/modelserver.py); the cost estimate falls back to benchmark results when unset."""
    experiment: ExperimentSpec | None = None
    """An A/B test of the canary against the primary; needs sticky routing and exactly those two live
    variants. With ``progressive`` its outcome is a promotion guardrail: a canary whose outcome rate
    is shown lower than the primary's is rolled back."""
    progressive: ProgressiveSpec | None = None
    """Automated canary promotion and rollback from measurements; unset leaves weights to people."""

    @model_validator(mode="after")
    def _invariants(self) -> ModelSpec:
        primaries = [i for i, v in enumerate(self.variants) if v.role == "primary"]
        if len(primaries) != 1:
            found = ", ".join(f"variants[{i}]" for i in primaries) or "none"
            raise problem("variants", f"exactly one variant must have role 'primary' (found {len(primaries)}: {found})")
        live = [(i, v) for i, v in enumerate(self.variants) if v.role != "shadow"]
        total = sum(v.weight or 0 for _, v in live)
        if abs(total - 100) > 1e-9:
            parts = " + ".join(f"variants[{i}] {v.weight:g}" for i, v in live)
            raise problem(
                "variants", f"weights of primary and canary variants must sum to 100 (got {parts} = {total:g})"
            )
        seen: dict[str, int] = {}
        for i, variant in enumerate(self.variants):
            name = variant.variant_name
            if name in seen:
                raise problem(
                    f"variants[{i}].name",
                    f"variant name '{name}' is already used by variants[{seen[name]}]; set a distinct name",
                )
            seen[name] = i
        live_names = [v.variant_name for _, v in live]
        for at, name in self.routing.policy.named_variants().items():
            if name not in live_names:
                raise problem(
                    f"routing.policy.{at}",
                    f"'{name}' is not a live variant of this model; expected one of {', '.join(live_names)}",
                )
        if self.experiment is not None:
            self._experiment_rules(live)
        if self.progressive is not None:
            canaries = [i for i, v in live if v.role == "canary"]
            if len(canaries) > 1:
                raise problem("progressive", f"progressive delivery moves one canary at a time (found {len(canaries)})")
        return self

    def _experiment_rules(self, live: list[tuple[int, VariantSpec]]) -> None:
        if self.routing.sticky is None:
            raise problem(
                "routing.policy",
                "an experiment needs sticky routing: set routing.policy: {type: sticky, input: user_id} (or header)",
            )
        canaries = [i for i, v in live if v.role == "canary"]
        if len(canaries) != 1:
            raise problem(
                "experiment", f"an experiment compares the primary with exactly one canary (found {len(canaries)})"
            )
        zero = [i for i, v in live if not v.weight]
        # Under progressive delivery a rolled-back canary keeps its line at weight 0.
        if zero and self.progressive is None:
            raise problem(f"variants[{zero[0]}].weight", "an experiment's arms need weights above 0")

    @property
    def arms(self) -> tuple[str, str] | None:
        """(A, B) variant names of the experiment: the primary and the canary; None without one."""
        if self.experiment is None:
            return None
        return self.primary.variant_name, next(v.variant_name for v in self.variants if v.role == "canary")

    @property
    def primary(self) -> VariantSpec:
        return next(v for v in self.variants if v.role == "primary")

    @property
    def live_variants(self) -> list[VariantSpec]:
        return [v for v in self.variants if v.role != "shadow"]

    @property
    def shadows(self) -> list[VariantSpec]:
        return [v for v in self.variants if v.role == "shadow"]
