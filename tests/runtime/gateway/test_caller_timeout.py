"""Triton's request timeout (``parameters.timeout``, microseconds) as the caller's own deadline.

``tritonclient``'s ``infer(timeout=...)`` sends it over REST and gRPC; KServe's clients send it
as any other parameter. The gateway reads it as it reads a gRPC deadline: when it ends before the
latency budget, it is the call's budget. REST requests are built by tritonclient's own encoder,
gRPC ones sent by KServe's gRPC client (the same ``int64_param`` tritonclient.grpc sends).
"""

from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np
import pytest
from kserve import InferenceGRPCClient, InferInput, InferRequest

from runtime.gateway import Settings
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, wait_for
from tests.runtime.gateway.test_binary import binary_request, triton_result

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]
INFER = "/v2/models/m/infer"
# One recorded failure would open the breaker for a minute: CLOSED at the end means none was.
STRICT_BREAKER = {"failureThreshold": 1, "cooldownMs": 60_000}


async def test_tritonclients_timeout_gets_the_fallback_before_it_and_costs_the_breaker_nothing(peer):
    hanging = peer(mode="hang", hang_s=30.0)
    spec = model_spec(variants=ONE, latencyBudgetMs=10_000, fallback={"value": 7}, circuitBreaker=STRICT_BREAKER)
    requests = [binary_request(np.ones((1, 2), dtype=np.float32), timeout=400_000) for _ in range(4)]
    async with serve(gateway_config(spec, {"v1": hanging.url})) as client:
        target = client.app.state.gateway.routes["m"].targets["v1"]
        t0 = time.monotonic()
        # Two in flight (the variant's slots), two queued behind them.
        answers = await asyncio.gather(*(client.post(INFER, content=b, headers=h) for b, h in requests))
        elapsed = time.monotonic() - t0
        await wait_for(lambda: target.coalescer._in_flight == 0 and target.coalescer.queued == 0, timeout_s=5)
        state = target.breaker.state.name
        metrics = (await client.get("/metrics")).text
    assert [a.headers.get("x-ml-serving-fallback") for a in answers] == ["timeout"] * 4
    assert [triton_result(a).as_numpy("predict").tolist() for a in answers] == [[7]] * 4
    # Within the caller's 0.4 s (and the test's slack), long before the budget of 10 s.
    assert elapsed < 3.0, f"the fallbacks took {elapsed * 1000:.0f} ms"
    gateway_ms = [float(a.headers["server-timing"].partition("dur=")[2]) for a in answers]
    assert max(gateway_ms) < 400, gateway_ms
    assert 'ml_serving_gateway_upstream_failures_total{model="m",reason="timeout",variant="v1"} 0.0' in metrics
    assert state == "CLOSED"


async def test_without_a_fallback_the_error_names_the_callers_deadline(peer):
    hanging = peer(mode="hang", hang_s=30.0)
    spec = model_spec(variants=ONE, latencyBudgetMs=10_000, fallback=None, circuitBreaker=STRICT_BREAKER)
    body, headers = binary_request(np.ones((1, 2), dtype=np.float32), timeout=300_000)
    async with serve(gateway_config(spec, {"v1": hanging.url})) as client:
        t0 = time.monotonic()
        response = await client.post(INFER, content=body, headers=headers)
        elapsed = time.monotonic() - t0
        state = client.app.state.gateway.routes["m"].targets["v1"].breaker.state.name
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert "the caller's deadline of 300 ms" in error and "budget of 10000 ms" in error, error
    assert elapsed < 3.0 and state == "CLOSED"


async def test_requests_with_a_timeout_are_still_joined_and_get_their_own_rows(peer):
    """The timeout is each caller's own, kept by the gateway: it keeps no request apart."""
    p = peer(mode="slow", delay_s=0.02)
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    rng = np.random.default_rng(5)
    arrays = [rng.integers(-50, 50, size=(int(rng.integers(1, 4)), 3)).astype(np.float32) for _ in range(60)]
    requests = [binary_request(a, timeout=4_000_000) for a in arrays]
    async with serve(config, Settings(coalesce=True)) as client:
        responses = await asyncio.gather(*(client.post(INFER, content=b, headers=h) for b, h in requests))
    for array, response in zip(arrays, responses):
        assert "x-ml-serving-fallback" not in response.headers
        assert triton_result(response).as_numpy("predict").tolist() == array.sum(axis=1).tolist()
    assert p.state.calls < len(arrays) / 3, f"{p.state.calls} upstream calls for {len(arrays)} requests"


async def test_a_timeout_of_zero_is_no_timeout(peer):
    """As Triton reads it: 0 leaves the latency budget in charge (the call is not already late)."""
    p = peer(mode="slow", delay_s=0.1)
    spec = model_spec(variants=ONE, latencyBudgetMs=5000, fallback={"value": 7})
    body, headers = binary_request(np.ones((1, 2), dtype=np.float32), timeout=0)
    async with serve(gateway_config(spec, {"v1": p.url})) as client:
        response = await client.post(INFER, content=body, headers=headers)
    assert "x-ml-serving-fallback" not in response.headers
    assert triton_result(response).as_numpy("predict").tolist() == [2.0]


@pytest.mark.parametrize("value", [-1, 1.5, "400000", True, None])
async def test_a_timeout_that_is_not_whole_microseconds_is_a_400_naming_it(peer, value):
    p = peer()
    request = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [1.0]}]}
    async with serve(gateway_config(model_spec(variants=ONE), {"v1": p.url})) as client:
        response = await client.post(INFER, json={**request, "parameters": {"timeout": value}})
    if value is None:  # JSON null: no timeout given
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "parameters.timeout" in error and "microseconds" in error and repr(value) in error, error
    assert p.state.calls == 0


def grpc_request(parameters: dict) -> InferRequest:
    t = InferInput("x", [1, 1], "FP32")
    t.set_data_from_numpy(np.ones((1, 1), dtype=np.float32), binary_data=True)
    return InferRequest(model_name="m", infer_inputs=[t], parameters=parameters)


async def test_over_grpc_the_timeout_parameter_is_the_callers_deadline_too(peer):
    hanging = peer(mode="hang", hang_s=30.0)
    spec = model_spec(variants=ONE, latencyBudgetMs=10_000, fallback={"value": 0}, circuitBreaker=STRICT_BREAKER)
    async with serve(gateway_config(spec, {"v1": hanging.url}), Settings(grpc_port=0)) as http:
        target = http.app.state.gateway.routes["m"].targets["v1"]
        address = f"127.0.0.1:{http.app.state.grpc_port}"
        async with InferenceGRPCClient(address, channel_args=[("grpc.enable_retries", 0)], timeout=30) as client:
            t0 = time.monotonic()
            answers = await asyncio.gather(*(client.infer(grpc_request({"timeout": 400_000})) for _ in range(3)))
            elapsed = time.monotonic() - t0
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await client.infer(grpc_request({"timeout": "400000"}))
        await wait_for(lambda: target.coalescer._in_flight == 0 and target.coalescer.queued == 0, timeout_s=5)
        state = target.breaker.state.name
    assert [a.outputs[0].as_numpy().tolist() for a in answers] == [[0]] * 3
    assert elapsed < 3.0, f"the fallbacks took {elapsed * 1000:.0f} ms"
    assert state == "CLOSED"
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "parameters.timeout" in refused.value.details(), refused.value.details()


def told_ms(headers: dict[str, str]) -> float:
    from runtime.protocol.deadline import TIMEOUT_HEADER

    return float(headers[TIMEOUT_HEADER])


async def test_each_upstream_call_tells_the_model_server_how_long_it_is_still_awaited(peer):
    """So that the model server's batch queue can drop a call the gateway has given up on."""
    p = peer(mode="slow", delay_s=0.05)
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=800), {"v1": p.url})
    alone = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [1.0]}]}
    async with serve(config, Settings(coalesce=True)) as client:
        assert (await client.post(INFER, json=alone)).status_code == 200
        first = told_ms(p.state.headers[-1])
        own = await client.post(INFER, json={**alone, "parameters": {"timeout": 300_000}})
        assert own.status_code == 200
        shorter = told_ms(p.state.headers[-1])
        p.state.headers.clear()
        answers = await asyncio.gather(*(client.post(INFER, json=alone) for _ in range(12)))
    assert all(a.status_code == 200 for a in answers)
    assert 600 < first <= 800, first  # the budget, less the gateway's reserve and its own time
    assert 200 < shorter <= 300, shorter  # the caller's own timeout, when sooner
    # Joined calls too (fewer calls than callers), each with the latest of its callers' times.
    assert len(p.state.headers) < 12 and all(0 < told_ms(h) <= 800 for h in p.state.headers)
