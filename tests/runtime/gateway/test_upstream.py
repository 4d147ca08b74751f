"""Both upstream clients give up on a model server that never answers, and say why."""

from __future__ import annotations

import time

import pytest

from runtime.gateway.errors import UpstreamError
from runtime.gateway.upstream import make_upstream

BODY = b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]}'


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_a_black_hole_times_out_on_the_clients_own_timeout(peer, kind):
    p = peer(mode="blackhole")
    upstream = make_upstream(kind, p.url, timeout_s=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(UpstreamError) as caught:
            await upstream.post("/v2/models/m/infer", BODY, {})
        elapsed = time.monotonic() - started
    finally:
        await upstream.aclose()
    assert caught.value.reason == "timeout"
    assert 0.25 < elapsed < 2.0, f"gave up after {elapsed:.2f} s with a 0.3 s timeout"


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_a_connection_dropped_mid_answer_is_a_disconnect(peer, kind):
    p = peer(mode="reset")
    upstream = make_upstream(kind, p.url, timeout_s=5)
    try:
        with pytest.raises(UpstreamError) as caught:
            await upstream.post("/v2/models/m/infer", BODY, {})
    finally:
        await upstream.aclose()
    assert caught.value.reason == "disconnected"


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_a_connection_the_model_server_closed_while_idle_is_not_reused(peer, kind):
    """A model server (uvicorn, KServe's too) closes a connection idle for 5 s. A gateway too busy
    to read that close in time must not write its next request on it: its pool drops a
    connection before the server's idle limit."""
    p = peer()
    upstream = make_upstream(kind, p.url, timeout_s=5)
    try:
        assert (await upstream.post("/v2/models/m/infer", BODY, {}))[0] == 200
        # A busy gateway: the event loop does not run while the server closes the connection.
        time.sleep(5.5)
        status, _ = await upstream.post("/v2/models/m/infer", BODY, {})
    finally:
        await upstream.aclose()
    assert status == 200
