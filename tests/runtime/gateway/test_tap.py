from __future__ import annotations

import asyncio
import gc
import random
import time
import tracemalloc

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.gateway import Settings
from runtime.wiring import INGEST_PATH, TapBatch
from tests.ports import free_port
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2, wait_for
from tests.runtime.gateway.peers import ThreadServer

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]


class Receiver(ThreadServer):
    """A small real ingest endpoint that validates each body as a TapBatch."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[TapBatch] = []
        self.delay_s = delay_s

        async def ingest(request: Request) -> Response:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            self.batches.append(TapBatch.model_validate_json(await request.body()))
            return Response(orjson.dumps({"accepted": True}), media_type="application/json")

        super().__init__(Starlette(routes=[Route(INGEST_PATH, ingest, methods=["POST"])]))

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


async def test_served_rows_reach_the_monitor_in_batches(peer):
    p = peer()
    with Receiver() as receiver:
        config = gateway_config(model_spec(variants=ONE), {"v1": p.url}, monitor_url=receiver.url)
        async with serve(config, Settings(tap_batch_size=4, tap_flush_ms=50)) as client:
            for i in range(10):
                body = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[i, 1], [i, 2]]}]}
                await client.post("/v2/models/m/infer", json=body, headers={"x-request-id": f"r{i}"})
            await wait_for(lambda: sum(len(b.records) for b in receiver.batches) == 10)
    assert max(len(b.records) for b in receiver.batches) <= 4
    assert len(receiver.batches) >= 3
    first = receiver.batches[0].records[0]
    assert (first.model, first.variant, first.request_id) == ("m", "v1", "r0")
    assert first.inputs == {"x": [[0, 1], [0, 2]]}
    assert first.outputs == {"predict": [1.0, 2.0]}
    assert first.routing_key is None  # no sticky routing declared


async def test_the_sticky_routing_key_travels_with_each_record(peer):
    p = peer()
    with Receiver() as receiver:
        spec = model_spec(variants=ONE, routing={"policy": {"type": "sticky", "input": "user", "header": "x-user-id"}})
        config = gateway_config(spec, {"v1": p.url}, monitor_url=receiver.url)
        async with serve(config, Settings(tap_batch_size=2, tap_flush_ms=20)) as client:
            body = {"inputs": [{"name": "user", "shape": [1], "datatype": "INT64", "data": [42]}]}
            await client.post("/v2/models/m/infer", json=body)
            await client.post("/v2/models/m/infer", json=body, headers={"x-user-id": "u-7"})
            await wait_for(lambda: sum(len(b.records) for b in receiver.batches) == 2)
    keys = [r.routing_key for b in receiver.batches for r in b.records]
    assert keys == ["42", "u-7"]


async def test_dead_or_slow_monitor_never_slows_requests(peer):
    p = peer()
    with Receiver(delay_s=2.0) as slow:
        for url in (slow.url, "http://127.0.0.1:9"):
            config = gateway_config(model_spec(variants=ONE), {"v1": p.url}, monitor_url=url)
            settings = Settings(tap_queue_size=5, tap_batch_size=2, tap_flush_ms=10, tap_timeout_ms=300)
            async with serve(config, settings) as client:
                t0 = time.monotonic()
                answers = [await client.post("/v2/models/m/infer", json=v2([1.0])) for _ in range(30)]
                elapsed = time.monotonic() - t0
                assert all(a.status_code == 200 for a in answers)
                assert elapsed < 2.0, f"30 requests took {elapsed:.2f} s with a bad monitor at {url}"
                text = (await client.get("/metrics")).text
                dropped = [
                    line
                    for line in text.splitlines()
                    if line.startswith('ml_serving_gateway_tap_records_total{outcome="dropped')
                ]
                assert sum(float(line.split()[-1]) for line in dropped) > 0, text


async def test_closing_the_tap_sends_what_it_held_and_what_was_queued():
    from runtime.gateway.metrics import GatewayMetrics
    from runtime.gateway.tap import DriftTap

    with Receiver() as receiver:
        metrics = GatewayMetrics()
        # A long flush window: the background task is still gathering its batch when the tap closes.
        tap = DriftTap(receiver.url, metrics, batch_size=4, flush_interval_s=30.0)
        tap.start()
        tensors = [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]
        for i in range(10):
            tap.offer("m", "v1", f"r{i}", tensors, [])
        await asyncio.sleep(0)  # let the task take its first records off the queue
        await tap.aclose(flush_timeout_s=5.0)
    ids = sorted(r.request_id for b in receiver.batches for r in b.records)
    assert ids == sorted(f"r{i}" for i in range(10))
    assert metrics.registry.get_sample_value("ml_serving_gateway_tap_records_total", {"outcome": "sent"}) == 10


async def test_the_queue_holds_at_most_its_bytes_while_the_monitor_is_down(peer):
    """Large requests while the monitor hangs: the tap's memory stays within ``tap_queue_bytes``
    (it was bounded by records only, so 10,000 large bodies could take gigabytes)."""
    p = peer()
    rng = random.Random(3)
    bound = 1_000_000
    with Receiver(delay_s=30) as receiver:
        config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url}, monitor_url=receiver.url)
        settings = Settings(tap_queue_bytes=bound, tap_batch_size=2, tap_flush_ms=10, tap_timeout_ms=20_000)
        async with serve(config, settings) as client:
            tap = client.app.state.gateway.tap
            tracemalloc.start()
            try:
                gc.collect()
                before = tracemalloc.get_traced_memory()[0]
                for _ in range(40):  # 40 requests of ~150 KB each: 6 MB of records
                    row = [rng.random() for _ in range(8000)]
                    body = {"inputs": [{"name": "x", "shape": [1, 8000], "datatype": "FP64", "data": row}]}
                    response = await client.post("/v2/models/m/infer", json=body)
                    assert response.headers["x-ml-serving-variant"] == "v1", response.text[:200]
                del response
                gc.collect()  # what the requests left in reference cycles is not the tap's
                held = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            assert held < bound + 700_000, f"the tap held {held / 1e6:.1f} MB with a bound of {bound / 1e6:.1f} MB"
            assert tap.queued_bytes <= bound
            metrics = (await client.get("/metrics")).text
    assert 'ml_serving_gateway_tap_records_total{outcome="dropped_full"}' in metrics
    dropped = next(
        line
        for line in metrics.splitlines()
        if line.startswith('ml_serving_gateway_tap_records_total{outcome="dropped_full"}')
    )
    assert float(dropped.split()[-1]) > 20, dropped


async def test_the_tap_authenticates_to_the_real_monitor_with_the_shared_token(peer, tmp_path):
    import pandas as pd

    from runtime.drift.app import create_app as monitor_app
    from runtime.drift.profile import build_profile
    from runtime.drift.settings import MonitorSettings
    from runtime.wiring import MonitorConfig

    spec = model_spec(variants=ONE)
    profile = build_profile(pd.DataFrame({"x": [float(i % 7) for i in range(200)]}))
    monitor = monitor_app(
        MonitorConfig(
            stack="t",
            models={"m": spec},
            profiles={"m": {"v1": str(profile.save(tmp_path))}},
            state_dir=str(tmp_path / "state"),
        ),
        MonitorSettings(tokens="shared-secret"),
    )
    token_file = tmp_path / "monitor-token"
    token_file.write_text("shared-secret\n")
    p = peer()
    server = ThreadServer(monitor).start()
    try:
        status = f"{server.url}/status/m"
        for settings, outcome in (
            (Settings(tap_flush_ms=10), "dropped_error"),
            (Settings(tap_flush_ms=10, monitor_token_file=str(token_file)), "sent"),
        ):
            config = gateway_config(spec, {"v1": p.url}, monitor_url=server.url)
            async with serve(config, settings) as client:
                for _ in range(3):
                    assert (await client.post("/v2/models/m/infer", json=v2([1.0]))).status_code == 200

                async def counted(c=client, o=outcome):
                    text = (await c.get("/metrics")).text
                    return f'ml_serving_gateway_tap_records_total{{outcome="{o}"}} 3.0' in text

                deadline = time.monotonic() + 10
                while not await counted():
                    assert time.monotonic() < deadline, f"the tap never counted 3 records as {outcome}"
                    await asyncio.sleep(0.02)
        import httpx

        rows = httpx.get(status, headers={"authorization": "Bearer shared-secret"}, timeout=5).json()
        assert rows["variants"]["v1"]["rows_seen"] == 3, "only the authenticated tap's rows count"
    finally:
        server.stop()


async def test_nothing_queued_is_lost_across_a_monitor_restart(peer, tmp_path):
    """The real monitor app stops and comes back on the same port: what the tap held meanwhile
    (within its bound) reaches it, none dropped."""

    import httpx
    import pandas as pd

    from runtime.drift.app import create_app as monitor_app
    from runtime.drift.profile import build_profile
    from runtime.drift.settings import MonitorSettings
    from runtime.wiring import MonitorConfig

    spec = model_spec(variants=ONE)
    profile = str(build_profile(pd.DataFrame({"x": [float(i % 7) for i in range(200)]})).save(tmp_path))
    config = MonitorConfig(
        stack="t", models={"m": spec}, profiles={"m": {"v1": profile}}, state_dir=str(tmp_path / "state")
    )
    settings = MonitorSettings(tokens="t", persist_interval_s=0)
    port = free_port()

    class Monitor(ThreadServer):
        def __init__(self) -> None:
            super().__init__(monitor_app(config, settings))
            self._server.config.port = port

    async def rows_seen() -> int:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as c:
            answer = await c.get(f"http://127.0.0.1:{port}/status/m", headers={"authorization": "Bearer t"})
            return answer.json()["variants"]["v1"]["rows_seen"]

    p = peer()
    first = Monitor().start()
    gateway = gateway_config(spec, {"v1": p.url}, monitor_url=first.url)
    async with serve(gateway, Settings(tap_flush_ms=10, monitor_token="t")) as client:
        for _ in range(5):
            assert (await client.post("/v2/models/m/infer", json=v2([1.0]))).status_code == 200
        deadline = time.monotonic() + 10
        while await rows_seen() < 5:
            assert time.monotonic() < deadline, "the first records never arrived"
            await asyncio.sleep(0.05)
        first.stop()  # the monitor is down: served rows wait in the tap
        for _ in range(20):
            assert (await client.post("/v2/models/m/infer", json=v2([1.0]))).status_code == 200
        await asyncio.sleep(0.3)  # the tap tries and keeps the batch
        second = Monitor().start()
        try:
            deadline = time.monotonic() + 15
            while await rows_seen() < 25:
                assert time.monotonic() < deadline, f"only {await rows_seen()} of 25 rows reached the monitor"
                await asyncio.sleep(0.05)
            text = (await client.get("/metrics")).text
        finally:
            second.stop()
    assert 'ml_serving_gateway_tap_records_total{outcome="sent"} 25.0' in text, text
    assert 'outcome="dropped_error"} 0.0' in text or 'outcome="dropped_error"}' not in text, text
