"""The request path against real peers: budget, retry, fallback, breaker, killed servers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from runtime.gateway import Settings
from tests.ports import free_port
from tests.runtime.gateway.conftest import gateway_config, model_spec, primary_and_canary, serve, v2, wait_for

ROOT = Path(__file__).resolve().parents[3]


async def test_answer_names_the_variant_in_header_and_model_version(peer):
    p1, p2 = peer(), peer()
    config = gateway_config(model_spec(), {"v1": p1.url, "v2": p2.url})
    async with serve(config) as client:
        response = await client.post("/v2/models/m/infer", json=v2([1.0, 2.0]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "m"
    assert body["model_version"] == response.headers["x-ml-serving-variant"]
    assert body["model_version"] in {"v1", "v2"}
    assert body["outputs"][0]["data"] == [1.0, 2.0]
    assert "x-ml-serving-fallback" not in response.headers


async def test_hanging_model_falls_back_within_budget(peer):
    hanging = peer(mode="hang", hang_s=3.0)
    spec = model_spec(
        variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}],
        latencyBudgetMs=500,
        fallback={"value": 0, "rules": [{"when": {"input": "x", "op": "gt", "value": 100}, "then": 1}]},
        circuitBreaker={"failureThreshold": 100, "cooldownMs": 1000},
    )
    async with serve(gateway_config(spec, {"v1": hanging.url})) as client:
        for _ in range(3):
            t0 = time.monotonic()
            response = await client.post("/v2/models/m/infer", json=v2([5.0, 500.0]))
            elapsed_ms = (time.monotonic() - t0) * 1000
            assert response.status_code == 200, response.text
            assert response.headers["x-ml-serving-fallback"] == "timeout"
            assert response.headers["x-ml-serving-variant"] == "fallback"
            assert response.json()["outputs"][0]["data"] == [0, 1]
            assert response.json()["outputs"][0]["shape"] == [2]
            # At the budget, not before it nor at the hang (3 s); 300 ms for a loaded machine's late timer.
            assert 450 <= elapsed_ms < 500 + 300, f"fallback took {elapsed_ms:.1f} ms against a budget of 500 ms"
        metrics = (await client.get("/metrics")).text
    assert 'ml_serving_gateway_fallbacks_total{model="m",reason="timeout",variant="v1"} 3.0' in metrics


async def test_fallbacks_are_counted_under_the_variant_the_request_was_routed_to(peer):
    # Both variants fail: each fallback belongs to the variant its request was routed to, so a
    # canary's fallback rate can be told from the primary's.
    primary, canary = peer(mode="fail"), peer(mode="fail")
    spec = model_spec(circuitBreaker={"failureThreshold": 1000, "cooldownMs": 1000})
    async with serve(gateway_config(spec, {"v1": primary.url, "v2": canary.url})) as client:
        for _ in range(40):
            response = await client.post("/v2/models/m/infer", json=v2([1.0]))
            assert response.headers["x-ml-serving-variant"] == "fallback", response.text
        metrics = (await client.get("/metrics")).text
        report = (await client.get("/rollouts/m/report")).json()
    counted = {
        s.labels["variant"]: s.value
        for family in text_string_to_metric_families(metrics)
        if family.name == "ml_serving_gateway_fallbacks"
        for s in family.samples
        if s.name.endswith("_total")
    }
    routed = {v["variant"]: v["fallbacks"] for v in report["variants"]}
    assert counted == routed and sum(counted.values()) == 40, (counted, routed)
    assert counted["v1"] > 0 and counted["v2"] > 0, counted


async def test_failing_canary_is_retried_on_the_primary(peer):
    primary, canary = peer(), peer(mode="fail")
    spec = model_spec(
        variants=primary_and_canary(90),
        circuitBreaker={"failureThreshold": 1000, "cooldownMs": 1000},
    )
    async with serve(gateway_config(spec, {"v1": primary.url, "v2": canary.url})) as client:
        answers = [await client.post("/v2/models/m/infer", json=v2([1.0])) for _ in range(40)]
        report = (await client.get("/rollouts/m/report")).json()
    assert all(a.status_code == 200 and a.headers["x-ml-serving-variant"] == "v1" for a in answers)
    assert canary.state.calls > 20, "the canary should have been tried first for most requests"
    assert primary.state.calls == 40
    by_name = {v["variant"]: v for v in report["variants"]}
    assert by_name["v2"]["errors"] == canary.state.calls
    assert by_name["v2"]["error_rate"] == 1.0
    assert report["fallbacks"] == 0


async def test_open_breaker_stops_calls_then_probes(peer):
    primary, canary = peer(), peer(mode="fail")
    spec = model_spec(
        variants=primary_and_canary(100),
        # Long enough for the seven requests after the breaker opens, on a loaded machine too:
        # a probe among them would reach the failing canary a fourth time.
        circuitBreaker={"failureThreshold": 3, "cooldownMs": 1000},
    )
    async with serve(gateway_config(spec, {"v1": primary.url, "v2": canary.url})) as client:
        for _ in range(10):
            assert (await client.post("/v2/models/m/infer", json=v2([1.0]))).headers["x-ml-serving-variant"] == "v1"
        assert canary.state.calls == 3
        assert 'ml_serving_gateway_breaker_state{model="m",variant="v2"} 1.0' in (await client.get("/metrics")).text
        canary.state.mode = "answer"
        deadline = time.monotonic() + 5
        while True:
            response = await client.post("/v2/models/m/infer", json=v2([1.0]))
            if response.headers["x-ml-serving-variant"] == "v2":
                break
            assert time.monotonic() < deadline, "the breaker never let a probe through"
            await asyncio.sleep(0.02)
        assert canary.state.calls == 4
        assert 'ml_serving_gateway_breaker_state{model="m",variant="v2"} 0.0' in (await client.get("/metrics")).text


async def test_without_fallback_nothing_answering_is_503(peer):
    failing = peer(mode="fail")
    spec = model_spec(variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}], fallback=None)
    async with serve(gateway_config(spec, {"v1": failing.url})) as client:
        response = await client.post("/v2/models/m/infer", json=v2([1.0]))
    assert response.status_code == 503
    assert "no variant answered" in response.json()["error"]
    assert "http_5xx" in response.json()["error"]


async def test_model_server_rejection_is_passed_through(peer):
    p = peer()
    config = gateway_config(
        model_spec(variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}]), {"v1": p.url}
    )
    async with serve(config) as client:
        # The peer answers 404 for a path it does not serve: the gateway passes a 4xx on.
        client.app.state.gateway.routes["m"].targets["v1"].path = "/v2/models/m/nope"
        response = await client.post("/v2/models/m/infer", json=v2([1.0]))
    assert response.status_code == 404
    assert "error" in response.json()


def _start_process_peer() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.gateway.peers", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/v2/models/m/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("process peer did not start")
        time.sleep(0.05)


async def test_killed_model_server_fails_no_client_request(peer):
    primary = peer()
    process, canary_url = _start_process_peer()
    spec = model_spec(fallback=None, latencyBudgetMs=1000)
    try:
        async with serve(gateway_config(spec, {"v1": primary.url, "v2": canary_url})) as client:

            async def worker(n: int) -> list[int]:
                statuses = []
                for _ in range(n):
                    statuses.append((await client.post("/v2/models/m/infer", json=v2([1.0]))).status_code)
                return statuses

            tasks = [asyncio.create_task(worker(60)) for _ in range(8)]
            deadline = time.monotonic() + 20
            while process.poll() is None and time.monotonic() < deadline:
                if primary.state.calls > 40:
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=10)
                await asyncio.sleep(0.005)
            statuses = [s for t in tasks for s in await t]
            report = (await client.get("/rollouts/m/report")).json()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL, "the canary was not killed mid-run"
    assert len(statuses) == 480
    assert statuses.count(200) == 480, f"failed client requests: {len(statuses) - statuses.count(200)}"
    canary = next(v for v in report["variants"] if v["variant"] == "v2")
    assert canary["errors"] >= 1, "no request met the dead canary; the kill came too late to prove anything"


async def test_a_slow_success_admitted_before_the_breaker_opened_does_not_close_it(peer):
    p = peer(mode="slow", delay_s=0.4)
    spec = model_spec(
        variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}],
        latencyBudgetMs=2000,
        circuitBreaker={"failureThreshold": 2, "cooldownMs": 60_000},
    )
    async with serve(gateway_config(spec, {"v1": p.url}), Settings(coalesce=False)) as client:
        slow = asyncio.create_task(client.post("/v2/models/m/infer", json=v2([1.0])))
        await wait_for(lambda: p.state.calls == 1)
        p.state.mode = "fail"
        for _ in range(2):
            failed = await client.post("/v2/models/m/infer", json=v2([1.0]))
            assert failed.headers["x-ml-serving-fallback"] == "http_5xx"
        assert (await slow).headers["x-ml-serving-variant"] == "v1"
        after = await client.post("/v2/models/m/infer", json=v2([1.0]))
    assert after.headers["x-ml-serving-fallback"] == "breaker_open", (
        "a stale success closed the breaker before its cool-down"
    )
    assert p.state.calls == 3
