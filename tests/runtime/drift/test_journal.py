"""Label persistence: a journal appended off the request path, compacted, replayed on start."""

import asyncio
import time

import httpx

from runtime.drift.app import create_app
from runtime.drift.journal import LabelJournal
from runtime.drift.labels import LabelStore
from runtime.drift.state import state_path
from runtime.wiring import INGEST_PATH

from .conftest import AUTH, monitor_config, settings


def _served(count: int, start: int = 0) -> dict:
    records = [
        {
            "model": "fraud",
            "variant": "v3",
            "requestId": f"r{i}",
            "timestamp": 1_000.0 + i,
            "inputs": {},
            "outputs": {"predict": [i % 2]},
        }
        for i in range(start, start + count)
    ]
    return {"records": records}


async def _until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_label_write_appends_a_line_off_the_request_and_survives_a_restart(tmp_path):
    config = monitor_config(str(tmp_path / "state"))
    snapshot = state_path(config.state_dir, "fraud", "_labels")
    journal = snapshot.with_suffix(".journal")
    app = create_app(config, settings(label_persist_interval_s=0.05))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://m", headers=AUTH) as c:
            for start in range(0, 20_000, 5_000):
                assert (await c.post(INGEST_PATH, json=_served(5_000, start))).status_code == 202
            # Every served row is in the journal (one line each, after the generation's), so no
            # flush of them is still to come when the label's line is measured.
            await _until(lambda: journal.exists() and journal.read_bytes().count(b"\n") >= 20_000)
            size = journal.stat().st_size
            response = await c.post("/labels/fraud", json={"labels": [{"requestId": "r7", "label": 1}]})
            assert response.json() == {"matched": 1, "unknown": []}
            assert not snapshot.exists(), "a label write must not rewrite the store"
            await _until(lambda: journal.stat().st_size > size)
            assert journal.stat().st_size - size < 100, "one label costs one short line"
            before = (await c.get("/labels/fraud")).json()
    restarted = create_app(config, settings())
    async with restarted.router.lifespan_context(restarted):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(restarted), base_url="http://m", headers=AUTH) as c:
            assert (await c.get("/labels/fraud")).json() == before
            assert (await c.post("/labels/fraud", json={"labels": [{"requestId": "r8", "label": 0}]})).json()[
                "matched"
            ] == 1
            assert (await c.post("/labels/fraud", json={"labels": [{"requestId": "r7", "label": 1}]})).json()[
                "matched"
            ] == 0


async def test_the_journal_is_compacted_and_a_torn_line_or_an_older_generation_is_ignored(tmp_path):
    store = LabelStore(capacity=100, bucket_seconds=60)
    journal = LabelJournal(tmp_path, "fraud", compact_after=10)
    for i in range(8):
        store.remember(f"r{i}", "v3", 1, 5.0)
    assert await journal.flush(store) == 8 and journal.generation == 0
    store.label("r0", 1)
    store.label("r1", 0)
    store.remember("r8", "v3", 0, 6.0)
    assert await journal.flush(store) == 3 and journal.generation == 1, "11 changes > 10: a snapshot"
    store.label("r2", 1)
    await journal.flush(store)
    with journal.path.open("ab") as handle:
        handle.write(b'["l","r3",')  # a crash in the middle of an append
    again = LabelStore(capacity=100, bucket_seconds=60)
    LabelJournal(tmp_path, "fraud", compact_after=10).load(again)
    assert again.summary() == store.summary() and list(again.pending) == list(store.pending)

    # A snapshot of a newer generation already holds what an older journal says.
    journal.path.write_bytes(b'{"generation": 0}\n["l","r4","1"]\n')
    fresh = LabelStore(capacity=100, bucket_seconds=60)
    LabelJournal(tmp_path, "fraud", compact_after=10).load(fresh)
    assert "r4" in fresh.pending
