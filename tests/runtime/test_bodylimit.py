"""The body limit read three ways (bare ASGI, a Starlette request, a middleware): one rule, one message."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.bodylimit import BodyLimit, read_limited, receive_body
from runtime.errors import PayloadTooLarge

LIMIT = 1000


def chunks(n: int, size: int = 300):
    async def stream():
        for _ in range(n):
            yield b"x" * size

    return stream()


async def via_request(request: Request) -> Response:
    try:
        body = await read_limited(request, LIMIT, "maxBodyBytes")
    except PayloadTooLarge as exc:
        return JSONResponse({"error": exc.message}, 413)
    return JSONResponse({"read": len(body)})


async def reads_itself(request: Request) -> Response:
    """A route that reads the whole body and answers 400 to any failure, as FastAPI does."""
    try:
        body = await request.body()
    except Exception:  # noqa: BLE001 - the middleware's answer must win over this one
        return JSONResponse({"error": "bad body"}, 400)
    return JSONResponse({"read": len(body)})


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_read_limited_refuses_a_declared_or_streamed_body_over_the_limit_and_reads_one_within():
    async with client(Starlette(routes=[Route("/", via_request, methods=["POST"])])) as c:
        declared = await c.post("/", content=b"x" * (LIMIT + 1))
        streamed = await c.post("/", content=chunks(4))
        within = await c.post("/", content=chunks(3))
        exact = await c.post("/", content=b"x" * LIMIT)
    assert declared.status_code == 413
    assert declared.json()["error"] == (
        "request body of 1001 bytes is over the limit of 1000 bytes (maxBodyBytes); send fewer rows per request"
    )
    assert streamed.status_code == 413
    # Refused at the fourth chunk: the bytes read so far, and no more held.
    assert streamed.json()["error"].startswith("request body of 1200 bytes or more is over the limit of 1000 bytes")
    assert within.json() == {"read": 900} and exact.json() == {"read": LIMIT}


async def test_the_middleware_answers_413_with_the_same_message_whatever_the_app_says():
    app = BodyLimit(Starlette(routes=[Route("/", reads_itself, methods=["POST"])]), LIMIT, "--max_body_bytes")
    async with client(app) as c:
        declared = await c.post("/", content=b"x" * 5000)
        streamed = await c.post("/", content=chunks(5))
        within = await c.post("/", content=chunks(2))
    assert declared.status_code == streamed.status_code == 413
    assert declared.json()["error"].startswith("request body of 5000 bytes is over the limit of 1000 bytes")
    assert "(--max_body_bytes)" in declared.json()["error"]
    assert streamed.json()["error"].startswith("request body of 1200 bytes or more is over the limit")
    assert within.json() == {"read": 600}


async def test_receive_body_joins_chunks_and_says_when_the_client_left():
    def receiver(messages):
        queue = list(messages)

        async def receive():
            return queue.pop(0)

        return receive

    parts = [{"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.request", "body": b"cd"}]
    assert await receive_body(receiver(parts), LIMIT) == b"abcd"
    left = [{"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"}]
    assert await receive_body(receiver(left), LIMIT) is None
    with pytest.raises(PayloadTooLarge, match="request body of 1002 bytes or more is over the limit of 1000 bytes"):
        await receive_body(receiver([{"type": "http.request", "body": b"x" * 1002, "more_body": True}]), LIMIT)
