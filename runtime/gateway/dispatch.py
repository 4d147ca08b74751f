"""One model's request path: the chosen variant, retries within the latency budget, fallback.

The whole answer stays within ``latency_budget_ms``: each call gets only the time left, a
failed or timed-out call moves on to the next variant (the primary first) while time is left,
and a variant whose breaker is open is skipped at once. When nothing answered, the declared
fallback answers (marked, counted by reason); without one the request fails with 503.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from runtime.errors import ModelUnavailable
from runtime.gateway.breaker import Breaker
from runtime.gateway.coalesce import Coalescer
from runtime.gateway.errors import CallFailure, FallbackReason, NoCall, UpstreamError
from runtime.gateway.fallback import fallback_rows
from runtime.gateway.metrics import GatewayMetrics
from runtime.gateway.payload import Inbound, columns_of, rows_of
from runtime.gateway.routing import build_policy
from runtime.gateway.stats import ModelStats
from runtime.gateway.upstream import Upstream
from runtime.protocol import DEFAULT_OUTPUT, build_response, encode_array
from runtime.spec import ModelSpec

__all__ = ["Answer", "ModelRoute", "FALLBACK_RESERVE_S"]

FALLBACK_RESERVE_S = 0.0015
"""Time kept back from the latency budget for answering with the fallback."""

CALLER_RESERVE_S = 0.010
"""Most time kept back from a caller's own deadline (a gRPC deadline shorter than the budget):
5% of it, at least ``FALLBACK_RESERVE_S``. More than the budget's reserve, because the caller's
clock started before the request reached the gateway, and a gRPC answer crosses grpcio's threads."""


@dataclass(slots=True)
class Answer:
    response: dict[str, Any]
    variant: str | None
    """The variant that answered; None for a fallback answer."""
    fallback_reason: FallbackReason | None = None
    nbytes: int = 0
    """Size of the model server's answer (this caller's share of it), for the drift tap's bound."""


@dataclass(slots=True, init=False)
class Target:
    name: str
    upstream: Upstream
    path: str
    breaker: Breaker
    coalescer: Coalescer
    """Every call to this variant goes through it: deadlines, joining (settings.coalesce) and the
    breaker's accounting; one that never joins when none is given."""

    def __init__(
        self, name: str, upstream: Upstream, path: str, breaker: Breaker, coalescer: Coalescer | None = None
    ) -> None:
        self.name, self.upstream, self.path, self.breaker = name, upstream, path, breaker
        self.coalescer = coalescer if coalescer is not None else Coalescer(upstream, breaker, join=False)


class ModelRoute:
    """What the gateway holds for one model: its spec, routing policy, variants, breakers and counts."""

    def __init__(self, name: str, spec: ModelSpec, targets: dict[str, Target], metrics: GatewayMetrics) -> None:
        self.name = name
        self.spec = spec
        self.policy = build_policy(name, spec)
        self.targets = targets
        self.metrics = metrics
        self.budget_s = spec.latency_budget_ms / 1000.0
        # Calls stop a little before the budget ends so that the fallback, built and sent after
        # the last call gives up, still reaches the client within the budget.
        self._calls_budget_s = self.budget_s - min(FALLBACK_RESERVE_S, self.budget_s * 0.05)
        self.stats = ModelStats([v.variant_name for v in spec.live_variants], [v.variant_name for v in spec.shadows])
        self._failures = {
            (variant, reason): metrics.upstream_failures.labels(name, variant, reason)
            for variant in targets
            for reason in CallFailure
        }

    async def infer(
        self, inbound: Inbound, headers: dict[str, str], order: list[str], started: float, until: float | None = None
    ) -> Answer:
        """Try the variants in ``order`` (the policy's choice) within the latency budget, or by
        ``until`` (monotonic), the caller's own deadline, when that comes first: then the
        fallback, or the error, still reaches the caller before it gives up."""
        deadline = started + self._calls_budget_s
        caller_s: float | None = None  # the caller's own deadline, when it is this call's budget
        if until is not None:
            left = max(0.0, until - started)
            own = until - min(CALLER_RESERVE_S, max(FALLBACK_RESERVE_S, left * 0.05), left / 2)
            if own < deadline:
                deadline, caller_s = own, left
        budgeted = caller_s is None
        stats = self.stats
        stats.requests += 1
        stats.variants[order[0]].routed += 1
        reason: FallbackReason = NoCall.NO_VARIANT
        for name in order:
            target = self.targets[name]
            permit = target.breaker.acquire()
            if permit is None:
                if reason == NoCall.NO_VARIANT:
                    reason = NoCall.BREAKER_OPEN
                continue
            if deadline - time.monotonic() <= 0:
                target.breaker.release(permit)
                break
            vs = stats.variants[name]
            vs.calls += 1
            t0 = time.monotonic()
            try:
                # The coalescer owns the permit from here: it records the upstream call's outcome
                # once, however many callers share the call.
                response, nbytes = await target.coalescer.post(
                    target.path, inbound, headers, permit, deadline, budgeted
                )
            except TimeoutError:
                failure = CallFailure.TIMEOUT
            except UpstreamError as exc:
                failure = exc.reason
            else:
                vs.served += 1
                vs.latencies_ms.append((time.monotonic() - t0) * 1000.0)
                response["model_name"] = self.name
                response["model_version"] = name
                return Answer(response=response, variant=name, nbytes=nbytes)
            reason = failure
            if budgeted or failure != CallFailure.TIMEOUT:  # a caller's own deadline is not the variant's failure
                vs.errors += 1
                self._failures[(name, failure)].inc()
        return self._fallback(inbound, order[0], reason, headers, caller_s)

    def _fallback(
        self,
        inbound: Inbound,
        routed: str,
        reason: FallbackReason,
        headers: dict[str, str],
        caller_s: float | None = None,
    ) -> Answer:
        fallback = self.spec.fallback
        if fallback is None:
            self.stats.unanswered += 1
            within = (
                f"the caller's deadline of {caller_s * 1000:.0f} ms (shorter than the latency budget of "
                f"{self.spec.latency_budget_ms:g} ms)"
                if caller_s is not None
                else f"the latency budget of {self.spec.latency_budget_ms:g} ms"
            )
            raise ModelUnavailable(
                f"model '{self.name}': no variant answered within {within} (last failure: {reason}) "
                "and the model declares no fallback"
            )
        self.stats.fallbacks += 1
        self.stats.variants[routed].fallbacks += 1
        self.metrics.fallbacks.labels(self.name, routed, reason).inc()
        rows = rows_of(inbound.inputs)
        values = fallback_rows(fallback, columns_of(inbound.inputs), rows)
        name = inbound.output_names[0] if inbound.output_names else DEFAULT_OUTPUT
        output = encode_array(name, values) if values else encode_array(name, [fallback.value])
        if not values:
            output = output.model_copy(update={"shape": [0], "data": []})
        response = build_response(self.name, [output], request_id=headers.get("x-request-id"), model_version="fallback")
        return Answer(response=response.model_dump(exclude_none=True), variant=None, fallback_reason=reason)
