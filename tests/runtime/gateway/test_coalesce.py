"""Coalescing: concurrent calls to one variant share an upstream request; rows never mix."""

from __future__ import annotations

import asyncio
import gc
import random
import time

import orjson

from runtime.gateway import Settings
from runtime.gateway.breaker import Breaker
from runtime.gateway.coalesce import Coalescer, _Call
from runtime.gateway.payload import parse_v2
from runtime.gateway.upstream import AiohttpUpstream
from runtime.spec import CircuitBreakerSpec
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, wait_for

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]


def body(rows: list[list[float]]) -> dict:
    return {"inputs": [{"name": "x", "shape": [len(rows), 2], "datatype": "FP64", "data": rows}]}


async def test_concurrent_requests_share_upstream_calls_and_get_their_own_rows(peer):
    p = peer(mode="slow", delay_s=0.02)
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    rng = random.Random(7)
    requests = [[[rng.uniform(-100, 100), float(i)] for _ in range(rng.randint(1, 5))] for i in range(120)]
    async with serve(config, Settings(coalesce=True, coalesce_max_rows=64)) as client:
        responses = await asyncio.gather(*(client.post("/v2/models/m/infer", json=body(rows)) for rows in requests))
    for rows, response in zip(requests, responses):
        assert response.status_code == 200, response.text
        assert "x-ml-serving-fallback" not in response.headers
        output = response.json()["outputs"][0]
        assert output["shape"] == [len(rows)]
        assert output["data"] == [sum(r) for r in rows], "a caller got rows that are not its own"
    assert p.state.calls < len(requests) / 3, f"{p.state.calls} upstream calls for {len(requests)} requests"


async def test_a_lone_request_goes_at_once_and_incompatible_ones_go_alone(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    async with serve(config, Settings(coalesce=True)) as client:
        lone = await client.post("/v2/models/m/infer", json=body([[1.0, 2.0]]))
        assert lone.json()["outputs"][0]["data"] == [3.0]
        wide = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [[1.0, 1.0, 1.0]]}]}
        answers = await asyncio.gather(
            *(client.post("/v2/models/m/infer", json=wide if i % 2 else body([[float(i), 0.0]])) for i in range(20))
        )
    for i, response in enumerate(answers):
        assert response.status_code == 200, response.text
        assert response.json()["outputs"][0]["data"] == ([3.0] if i % 2 else [float(i)])


async def test_one_callers_refused_rows_never_fail_the_others(peer):
    p = peer(mode="reject_negative")
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    values = [float(i) if i % 7 else -1.0 for i in range(1, 43)]
    async with serve(config, Settings(coalesce=True)) as client:
        answers = await asyncio.gather(*(client.post("/v2/models/m/infer", json=body([[v, 0.0]])) for v in values))
    for value, response in zip(values, answers):
        if value < 0:
            assert response.status_code == 400 and "negative" in response.json()["error"], response.text
        else:
            assert response.status_code == 200, response.text
            assert response.json()["outputs"][0]["data"] == [value]


async def test_requests_with_an_id_or_parameters_are_never_joined(peer):
    p = peer(mode="slow", delay_s=0.02)
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    async with serve(config, Settings(coalesce=True)) as client:
        answers = await asyncio.gather(
            *(client.post("/v2/models/m/infer", json={**body([[float(i), 0.0]]), "id": f"req-{i}"}) for i in range(30))
        )
    for i, response in enumerate(answers):
        assert response.status_code == 200, response.text
        assert response.json()["id"] == f"req-{i}", "a joined request lost its caller's id"
    assert p.state.calls == 30


def one(value: float) -> dict:
    return body([[value, 0.0]])


async def answered(coalescer: Coalescer, value: float) -> None:
    """One caller's row through ``coalescer``, which must answer it with its own value."""
    permit = coalescer.breaker.acquire()
    assert permit is not None
    reply, _ = await coalescer.post(
        "/v2/models/m/infer", parse_v2(orjson.dumps(one(value))), {}, permit, time.monotonic() + 5
    )
    assert reply["outputs"][0]["data"] == [value]


async def _variant(client, value: float) -> str:
    response = await client.post("/v2/models/m/infer", json=one(value))
    assert response.status_code == 200, response.text
    return response.headers["x-ml-serving-variant"]


async def test_a_stalled_variant_serves_again_as_soon_as_it_recovers(peer):
    """A black hole for 1 s under load, then healthy: the next calls reach it (finding: the
    stalled sends kept the variant's slots, so it answered nothing for minutes after)."""
    p = peer(mode="blackhole")
    # 400 ms: a budget the sixteen in-process callers meet on a loaded machine once it answers.
    spec = model_spec(
        variants=ONE, latencyBudgetMs=400, circuitBreaker={"failureThreshold": 1_000_000, "cooldownMs": 100}
    )
    async with serve(gateway_config(spec, {"v1": p.url}), Settings(coalesce=True)) as client:

        async def load(seconds: float) -> list[str]:
            until, seen = time.monotonic() + seconds, []
            while time.monotonic() < until:
                seen.append(await _variant(client, 1.0))
            return seen

        stalled = [v for seen in await asyncio.gather(*(load(1.0) for _ in range(16))) for v in seen]
        assert set(stalled) == {"fallback"}
        p.state.mode = "answer"
        recovered = time.monotonic()
        await wait_for_async(lambda: _variant(client, 1.0), "v1", timeout_s=3.0)
        # A stalled send holds a slot for one budget at most (it held them for minutes).
        assert time.monotonic() - recovered < 3 * 0.4
        after = [v for seen in await asyncio.gather(*(load(1.0) for _ in range(16))) for v in seen]
    assert after.count("v1") / len(after) > 0.95, (
        f"{after.count('fallback')} of {len(after)} still fell back after recovery"
    )


async def wait_for_async(probe, expected, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while await probe() != expected:
        assert time.monotonic() < deadline, f"no '{expected}' answer within {timeout_s} s"


async def _occupy_then_queue(client, p, values: list[float], mode: str) -> list:
    """Two slow calls hold both upstream slots; ``values`` queue behind them and go joined once
    the peer is in ``mode``."""
    first = [asyncio.create_task(client.post("/v2/models/m/infer", json=one(1.0))) for _ in range(2)]
    await wait_for(lambda: p.state.calls >= 2)
    p.state.mode = mode
    queued = [asyncio.create_task(client.post("/v2/models/m/infer", json=one(v))) for v in values]
    for response in await asyncio.gather(*first):
        assert response.headers["x-ml-serving-variant"] == "v1", response.text
    return await asyncio.gather(*queued)


async def test_one_callers_poison_row_costs_only_its_own_request(peer):
    p = peer(mode="slow", delay_s=0.3)
    spec = model_spec(variants=ONE, latencyBudgetMs=3000, circuitBreaker={"failureThreshold": 3, "cooldownMs": 5000})
    async with serve(gateway_config(spec, {"v1": p.url}), Settings(coalesce=True)) as client:
        values = [float(i) for i in range(1, 10)] + [-1.0]
        answers = await _occupy_then_queue(client, p, values, "poison")
        metrics = (await client.get("/metrics")).text
    for value, response in zip(values, answers):
        assert response.status_code == 200, response.text
        if value < 0:
            assert response.headers["x-ml-serving-fallback"] == "http_5xx"
        else:
            assert response.headers["x-ml-serving-variant"] == "v1", f"request {value} paid for another's poison row"
            assert response.json()["outputs"][0]["data"] == [value]
    assert 'ml_serving_gateway_breaker_state{model="m",variant="v1"} 0.0' in metrics, (
        "one poison row opened the breaker"
    )


async def test_a_failed_joined_call_counts_one_breaker_failure(peer):
    p = peer(mode="slow", delay_s=0.3)
    spec = model_spec(variants=ONE, latencyBudgetMs=3000, circuitBreaker={"failureThreshold": 3, "cooldownMs": 5000})
    async with serve(gateway_config(spec, {"v1": p.url}), Settings(coalesce=True)) as client:
        answers = await _occupy_then_queue(client, p, [float(i) for i in range(10)], "reset")
        metrics = (await client.get("/metrics")).text
    assert {a.headers["x-ml-serving-fallback"] for a in answers} == {"disconnected"}
    assert p.state.calls == 3, "ten queued callers should have shared one upstream call"
    assert 'ml_serving_gateway_breaker_state{model="m",variant="v1"} 0.0' in metrics, (
        "one failed upstream call opened a breaker of threshold 3"
    )


async def test_callers_that_leave_take_their_requests_off_the_queue(peer):
    p = peer(mode="blackhole")
    spec = model_spec(
        variants=ONE, latencyBudgetMs=300, circuitBreaker={"failureThreshold": 1_000_000, "cooldownMs": 100}
    )
    async with serve(gateway_config(spec, {"v1": p.url}), Settings(coalesce=True)) as client:
        coalescer = client.app.state.gateway.routes["m"].targets["v1"].coalescer
        tasks = [asyncio.create_task(client.post("/v2/models/m/infer", json=one(float(i)))) for i in range(40)]
        await wait_for(lambda: coalescer.queued > 0)
        answers = await asyncio.gather(*tasks)
        assert {a.headers["x-ml-serving-fallback"] for a in answers} == {"timeout"}
        assert coalescer.queued == 0, "callers out of budget left their request bodies queued"


async def test_poison_rows_never_open_the_breaker_of_a_model_server_that_answers_the_rest(peer):
    p = peer(mode="slow", delay_s=0.3)
    spec = model_spec(variants=ONE, latencyBudgetMs=3000, circuitBreaker={"failureThreshold": 3, "cooldownMs": 5000})
    async with serve(gateway_config(spec, {"v1": p.url}), Settings(coalesce=True)) as client:
        values = [-1.0, 2.0, -3.0, 4.0, 5.0, -6.0, 7.0, 8.0, 9.0, 10.0]
        answers = await _occupy_then_queue(client, p, values, "poison")
        metrics = (await client.get("/metrics")).text
        calls = p.state.calls
    for value, response in zip(values, answers):
        assert response.headers["x-ml-serving-variant"] == ("fallback" if value < 0 else "v1"), (
            value,
            response.headers,
        )
    assert calls - 2 < len(values) + 4, f"{calls - 2} upstream calls to sort out 10 callers"
    assert 'ml_serving_gateway_breaker_state{model="m",variant="v1"} 0.0' in metrics, (
        "three poison rows opened the breaker"
    )


async def test_the_next_call_leaves_before_the_callers_answered_resume(peer):
    """A send's slot is handed on as soon as its answer is in: the next joined call is on its
    way to the model server before the callers of the last one write their answers (else the
    model server idles while a dozen callers answer, a third of the gateway's throughput)."""
    p = peer(mode="slow", delay_s=1.0)  # long enough for the next callers to queue on a busy machine
    events: list[str] = []

    class Recording(AiohttpUpstream):
        async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            events.append(f"sent {orjson.loads(body)['inputs'][0]['shape'][0]} rows")
            return await super().post(path, body, headers)

    upstream = Recording(p.url, 8)
    breaker = Breaker(CircuitBreakerSpec())
    coalescer = Coalescer(upstream, breaker, max_in_flight=1)

    async def caller(value: float) -> None:
        await answered(coalescer, value)
        events.append(f"answered {value:g}")

    try:
        first = asyncio.create_task(caller(0))  # goes at once and holds the one slot
        await wait_for(lambda: p.state.calls == 1)
        second = [asyncio.create_task(caller(v)) for v in (1, 2)]  # queued: one joined send
        await wait_for(lambda: coalescer.queued == 2)
        await first
        await wait_for(lambda: p.state.calls == 2)
        third = [asyncio.create_task(caller(v)) for v in (3, 4, 5)]  # queued behind the joined send
        await wait_for(lambda: coalescer.queued == 3)
        await asyncio.gather(*second, *third)
    finally:
        await upstream.aclose()
    assert events == [
        "sent 1 rows",
        "answered 0",
        "sent 2 rows",
        "sent 3 rows",
        "answered 1",
        "answered 2",
        "answered 3",
        "answered 4",
        "answered 5",
    ], events


async def test_the_slots_per_variant_come_from_the_settings(peer, monkeypatch):
    p = peer()
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    monkeypatch.setenv("ML_SERVING_GATEWAY_COALESCE_IN_FLIGHT", "3")
    for settings, slots in ((Settings(), 3), (Settings(coalesce_in_flight=1), 1)):
        async with serve(config, settings) as client:
            coalescer = client.app.state.gateway.routes["m"].targets["v1"].coalescer
            assert coalescer.max_in_flight == slots
            assert (await client.post("/v2/models/m/infer", json=one(2.0))).json()["outputs"][0]["data"] == [2.0]


async def test_a_joined_call_cut_short_by_its_callers_own_deadlines_costs_the_breaker_nothing(peer):
    """Callers whose deadline is their own (a gRPC deadline shorter than the budget) share a call
    that runs out of their time: a timeout, but not the variant's failure."""
    p = peer(mode="slow", delay_s=1.0)
    upstream = AiohttpUpstream(p.url, 8)
    breaker = Breaker(CircuitBreakerSpec(failureThreshold=1, cooldownMs=60_000))  # one failure opens it
    coalescer = Coalescer(upstream, breaker, max_in_flight=1)

    async def caller(value: float, deadline: float, budgeted: bool):
        permit = breaker.acquire()
        assert permit is not None
        request = parse_v2(orjson.dumps(one(value)))
        return await coalescer.post("/v2/models/m/infer", request, {}, permit, deadline, budgeted)

    try:
        first = asyncio.create_task(caller(0, time.monotonic() + 5, True))  # holds the one slot for 1 s
        await wait_for(lambda: p.state.calls == 1)
        # The joined call leaves at about 1 s and needs 1 s more; half a second of slack each way
        # for a loaded machine (the first answer late, the queued callers' timers late).
        until = time.monotonic() + 1.5
        queued = [asyncio.create_task(caller(v, until, False)) for v in (1, 2)]
        await wait_for(lambda: coalescer.queued == 2)
        assert (await first)[0]["outputs"][0]["data"] == [0.0]
        outcomes = await asyncio.gather(*queued, return_exceptions=True)
    finally:
        await upstream.aclose()
    assert p.state.calls == 2, "the two queued callers shared one call"
    assert all(isinstance(o, TimeoutError) for o in outcomes), outcomes
    assert breaker.state.name == "CLOSED", "a call cut short by its callers' own deadlines opened the breaker"


async def test_a_moment_of_timeouts_with_many_calls_out_does_not_open_the_breaker(peer):
    """Eight calls out at once all time out in a short stall: one failure, not eight, so the
    breaker (three in a row) stays closed and the variant serves again as soon as it recovers.
    A variant that keeps hanging still opens it."""
    p = peer(mode="slow", delay_s=2.0)
    breaker = {"failureThreshold": 3, "cooldownMs": 60_000}
    spec = model_spec(variants=ONE, latencyBudgetMs=300, fallback={"value": 0}, circuitBreaker=breaker)
    config = gateway_config(spec, {"v1": p.url})
    async with serve(config, Settings(coalesce=True, coalesce_in_flight=8)) as client:
        target = client.app.state.gateway.routes["m"].targets["v1"]
        # Ids keep the eight apart: each is its own upstream call, all out at once.
        stalled = await asyncio.gather(
            *(client.post("/v2/models/m/infer", json={**one(float(i)), "id": f"s{i}"}) for i in range(8))
        )
        assert [r.headers.get("x-ml-serving-fallback") for r in stalled] == ["timeout"] * 8
        assert target.breaker.state.name == "CLOSED"
        p.state.mode = "answer"  # recovered
        served = await client.post("/v2/models/m/infer", json=one(5.0))
        assert served.headers["x-ml-serving-variant"] == "v1" and served.json()["outputs"][0]["data"] == [5.0]
        p.state.mode = "hang"
        for i in range(4):  # one at a time: each sent after the last failure
            await client.post("/v2/models/m/infer", json={**one(float(i)), "id": f"h{i}"})
        assert target.breaker.state.name == "OPEN"


async def test_answered_calls_are_freed_at_once_not_left_to_the_collector(peer):
    """A served call, its future and its share of the answer go when the caller has them: left
    in reference cycles, they were some 25 objects a request for the collector, which at
    concurrency 32 then ran every 25 requests (bench/gateway_probe.py)."""
    p = peer(mode="slow", delay_s=0.02)
    upstream = AiohttpUpstream(p.url, 8)
    breaker = Breaker(CircuitBreakerSpec())
    coalescer = Coalescer(upstream, breaker, max_in_flight=1)

    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds is kept in gc.garbage, not freed
    try:
        await asyncio.gather(*(answered(coalescer, float(v)) for v in range(40)))
        gc.collect()
        left = sum(isinstance(o, _Call) for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
        await upstream.aclose()
    assert p.state.calls < 20, f"{p.state.calls} upstream calls for 40 callers: the calls were not joined"
    assert left == 0, f"{left} of 40 answered calls were left in reference cycles"
