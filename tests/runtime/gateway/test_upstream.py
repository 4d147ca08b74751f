"""Both upstream clients give up on a model server that never answers, or answers far too much,
and say why."""

from __future__ import annotations

import asyncio
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


@pytest.mark.parametrize("mode", ["huge", "huge_chunked"])
@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_an_answer_over_the_limit_is_a_bad_response_and_the_next_call_is_answered(peer, kind, mode):
    # 2 MB of answer against a 1 MB limit: declared (content-length) or seen as it is read.
    p = peer(mode=mode)
    upstream = make_upstream(kind, p.url, timeout_s=5, max_answer_bytes=1_000_000)
    try:
        with pytest.raises(UpstreamError) as caught:
            await upstream.post("/v2/models/m/infer", BODY, {})
        p.state.mode = "answer"  # the next call is answered, on a connection of its own
        status, answer = await upstream.post("/v2/models/m/infer", BODY, {})
    finally:
        await upstream.aclose()
    assert caught.value.reason == "bad_response"
    seen = "bytes" if mode == "huge" else "bytes or more"
    assert f" {seen} is over the limit of 1000000 bytes (ML_SERVING_GATEWAY_UPSTREAM_MAX_ANSWER_BYTES)" in str(
        caught.value
    ), caught.value
    assert status == 200 and b'"outputs"' in answer


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_an_answer_within_the_limit_is_read_whole_declared_or_not(peer, kind):
    for mode in ("huge", "huge_chunked"):
        p = peer(mode=mode)
        upstream = make_upstream(kind, p.url, timeout_s=5, max_answer_bytes=3_000_000)
        try:
            status, answer = await upstream.post("/v2/models/m/infer", BODY, {})
        finally:
            await upstream.aclose()
        assert status == 200 and len(answer) > 2_000_000 and answer.endswith(b"}"), (mode, len(answer))


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


class _ClosesOnSecondRequest:
    """A raw HTTP/1.1 server: the first connection answers one request and keeps alive, then
    closes as the next request on it arrives, without answering (the race of a model server
    closing an idle connection as the gateway writes on it). Later connections answer all."""

    def __init__(self) -> None:
        self.connections = 0
        self.answered = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                await reader.readexactly(length)
                if first and served == 1:
                    return  # closes without a byte of answer
                answer = b'{"outputs": []}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(answer), answer)
                )
                await writer.drain()
                served += 1
                self.answered += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_a_request_on_a_connection_closed_before_any_answer_is_sent_once_more(kind):
    server_state = _ClosesOnSecondRequest()
    server = await asyncio.start_server(server_state.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream = make_upstream(kind, f"http://127.0.0.1:{port}", timeout_s=5)
    try:
        assert (await upstream.post("/v2/models/m/infer", BODY, {}))[0] == 200
        status, _ = await upstream.post("/v2/models/m/infer", BODY, {})
    finally:
        await upstream.aclose()
        server.close()
        await server.wait_closed()
    assert status == 200
    assert server_state.connections == 2 and server_state.answered == 2
