"""A half-open breaker's probe slot is released whatever ends the probe."""

from __future__ import annotations

import time

import orjson
import pytest

from runtime.gateway.breaker import Breaker
from runtime.gateway.dispatch import ModelRoute, Target
from runtime.gateway.metrics import GatewayMetrics
from runtime.gateway.payload import parse_v2
from runtime.spec import CircuitBreakerSpec
from tests.runtime.gateway.conftest import model_spec, v2


class ExplodingUpstream:
    """A client fault that is neither a timeout nor an upstream error."""

    base_url = "http://127.0.0.1:9"

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        raise RuntimeError("client fault")


async def test_an_unforeseen_client_fault_frees_the_probe_slot():
    now = [0.0]
    breaker = Breaker(CircuitBreakerSpec(failure_threshold=1, cooldown_ms=10), clock=lambda: now[0])
    breaker.record(breaker.acquire(), False)
    now[0] = 1.0  # past the cool-down: half-open, one probe allowed
    spec = model_spec(variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}])
    route = ModelRoute(
        "m", spec, {"v1": Target("v1", ExplodingUpstream(), "/v2/models/m/infer", breaker)}, GatewayMetrics()
    )
    inbound = parse_v2(orjson.dumps(v2([1.0])))
    with pytest.raises(RuntimeError, match="client fault"):
        await route.infer(inbound, {}, ["v1"], time.monotonic())
    assert breaker.acquire() is not None, "the probe slot stayed taken after the probe failed unexpectedly"
