"""Request bodies under a byte limit, read one way by every server of the project.

A body is refused (413) from its declared ``Content-Length`` before a byte of it is read, else as
soon as the bytes read pass the limit, so an oversized body is never held; the error names the
limit and the setting that sets it. Three ways in, one rule and one message:

- ``receive_body``: the bare ASGI loop, for a route answered in front of a framework (the model
  server's infer route);
- ``read_limited``: the same for a Starlette ``Request`` (the gateway, the experiment outcomes);
- ``BodyLimit``: a middleware for a whole app whose routes read bodies themselves (KServe's app
  behind the model server, the drift monitor).

A coded body's decompressed size is bounded where it inflates (runtime/contentcoding.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from runtime.errors import PayloadTooLarge

__all__ = ["BodyLimit", "declared_too_large", "read_limited", "receive_body", "too_large"]


def too_large(size: int, limit: int, setting: str = "", *, declared: bool = False) -> PayloadTooLarge:
    """The error for a body of ``size`` bytes (declared), or of ``size`` read so far (more may follow)."""
    named = f" ({setting})" if setting else ""
    seen = f"{size} bytes" if declared else f"{size} bytes or more"
    return PayloadTooLarge(
        f"request body of {seen} is over the limit of {limit} bytes{named}; send fewer rows per request"
    )


def declared_too_large(headers: Any, limit: int, setting: str = "") -> PayloadTooLarge | None:
    """The error when the ASGI ``headers`` declare a ``Content-Length`` over ``limit``, else None."""
    for key, value in headers:
        if key == b"content-length" and value.isdigit() and int(value) > limit:
            return too_large(int(value), limit, setting, declared=True)
    return None


async def receive_body(receive: Any, limit: int, setting: str = "") -> bytes | None:
    """The whole body from ASGI ``receive``; None when the client left first. Raises
    ``PayloadTooLarge`` once the bytes read pass ``limit`` (check the declared length first)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(size, limit, setting)
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_limited(request: Request, limit: int, setting: str = "") -> bytes:
    """The body of ``request``, or ``PayloadTooLarge`` naming ``limit`` and ``setting``;
    ``ClientDisconnect`` when the client left before it was in."""
    refused = declared_too_large(request.scope["headers"], limit, setting)
    if refused is not None:
        raise refused
    body = await receive_body(request.receive, limit, setting)
    if body is None:
        raise ClientDisconnect()
    return body


class _Over(Exception):
    """Raised into the app by ``BodyLimit``'s receive; the error it stands for is kept there."""


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_body_bytes``, declared or streamed, whatever
    the app behind would have answered while it was reading."""

    def __init__(self, app: Any, max_body_bytes: int, setting: str = "") -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.setting = setting

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = declared_too_large(scope["headers"], self.max_body_bytes, self.setting)
        if refused is not None:
            await _answer(send, refused)
            return
        received = 0
        over: PayloadTooLarge | None = None
        started = False

        async def limited_receive() -> dict:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    over = too_large(received, self.max_body_bytes, self.setting)
                    raise _Over
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if over is not None:
                # The app caught the error while reading (FastAPI answers 400 to any failure
                # there): answer 413 instead of whatever it says.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _answer(send, over)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _Over:
            if not started and over is not None:
                await _answer(send, over)


async def _answer(send: Any, error: PayloadTooLarge) -> None:
    """Answer ``error`` as ``{"error": ...}`` with its status, in one start and one body."""
    body = orjson.dumps({"error": error.message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": int(error.status), "headers": headers})
    await send({"type": "http.response.body", "body": body})
