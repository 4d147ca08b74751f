import asyncio
import time

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from runtime.drift.app import create_app
from runtime.wiring import INGEST_PATH

from .conftest import AUTH, columns, make_rows, monitor_config, settings


class Receiver:
    """A webhook endpoint on loopback that fails its first call and can hold calls open."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.attempts = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request):
            self.attempts += 1
            if self.attempts == 1:
                return JSONResponse({"error": "busy"}, status_code=500)
            self.entered.set()
            await self.release.wait()
            self.events.append(await request.json())
            return {"ok": True}

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "receiver did not start"
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def __aexit__(self, *_) -> None:
        self.release.set()
        self.server.should_exit = True
        await self.task


async def _until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def _tap(shift: float, seed: int) -> dict:
    rows = make_rows(1_000, seed=seed, shift=shift)
    rows["tenure"] = rows["tenure"] + shift * 3
    return {
        "records": [
            {"model": "fraud", "variant": "v3", "requestId": f"r{seed}", "timestamp": 0.0, "inputs": columns(rows)}
        ]
    }


@pytest.fixture
def profile_path(reference, tmp_path):
    return str(reference.save(tmp_path))


async def test_webhook_fires_on_the_transition_into_drift_retries_and_never_blocks(profile_path, tmp_path):
    receiver = Receiver()
    async with receiver as url:
        app = create_app(
            monitor_config(str(tmp_path / "state"), profile_path),
            settings(webhook_url=url, webhook_backoff_s=0.01, persist_interval_s=60),
        )
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://m", headers=AUTH
            ) as client:
                receiver.release.clear()
                assert (await client.post(INGEST_PATH, json=_tap(1.0, 1))).status_code == 202
                await _until(receiver.entered.is_set)  # first attempt failed; the retry is held open
                assert receiver.attempts == 2 and receiver.events == []
                # ingestion goes on while the webhook call hangs
                for seed, shift in ((2, 1.0), (3, 0.0), (4, 1.0)):
                    assert (await client.post(INGEST_PATH, json=_tap(shift, seed))).status_code == 202
                receiver.release.set()
                await _until(lambda: len(receiver.events) == 2)
                metrics = (await client.get("/metrics")).text
    # one event per entry into drift: windows 1 and 4, not window 2 (still drifted)
    assert [e["window"] for e in receiver.events] == [1, 4]
    assert receiver.events[0]["model"] == "fraud" and "amount" in receiver.events[0]["drifted_features"]
    assert "ml_serving_drift_webhook_delivered_total 2.0" in metrics


class FlakyReceiver(Receiver):
    """A webhook endpoint that answers 503 while ``down``, then takes events."""

    def __init__(self) -> None:
        self.down = True
        self.events = []
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request):
            if self.down:
                return JSONResponse({"error": "down"}, status_code=503)
            self.events.append(await request.json())
            return {"ok": True}

        self.release = asyncio.Event()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))


async def test_nothing_queued_is_lost_across_a_monitor_restart(profile_path, tmp_path):
    """The verdict 'drifted' is persisted; the alert must still go after a restart."""
    receiver = FlakyReceiver()
    config = monitor_config(str(tmp_path / "state"), profile_path)
    options = {"webhook_backoff_s": 0.01, "webhook_retries": 1, "webhook_pause_s": 0.05, "webhook_drain_s": 0.3}
    async with receiver as url:
        app = create_app(config, settings(webhook_url=url, **options))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://m", headers=AUTH) as c:
                assert (await c.post(INGEST_PATH, json=_tap(1.0, 1))).status_code == 202
                await _until(lambda: app.state.service.notifier.failed >= 1)
                assert "ml_serving_drift_webhook_pending 1.0" in (await c.get("/metrics")).text
        # stopped with the receiver still down: the drain gives up at its deadline, the event stays
        assert len(list((tmp_path / "state" / "_outbox").glob("*.json"))) == 1 and receiver.events == []

        receiver.down = False
        again = create_app(config, settings(webhook_url=url, **options))
        async with again.router.lifespan_context(again):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(again), base_url="http://m", headers=AUTH) as c:
                assert (await c.get("/status/fraud")).json()["variants"]["v3"]["last"]["dataset_drifted"]
                await _until(lambda: len(receiver.events) == 1)
                # still drifted after the restart: no second event for the same transition
                assert (await c.post(INGEST_PATH, json=_tap(1.0, 2))).status_code == 202
    assert [e["window"] for e in receiver.events] == [1] and receiver.events[0]["id"]
    assert list((tmp_path / "state" / "_outbox").glob("*.json")) == []


async def test_stop_drains_the_outbox_within_its_deadline(profile_path, tmp_path):
    receiver = FlakyReceiver()
    receiver.down = False
    async with receiver as url:
        app = create_app(
            monitor_config(str(tmp_path / "state"), profile_path), settings(webhook_url=url, webhook_drain_s=10)
        )
        async with app.router.lifespan_context(app):
            service = app.state.service
            service.ingest("fraud", "v3", _tap(1.0, 3)["records"][0]["inputs"], {})
            assert service.notifier.pending == 1
        # the lifespan's exit waited for the delivery instead of discarding the queue
        assert len(receiver.events) == 1 and service.notifier.pending == 0
