"""An ASGI middleware that answers 413 to a request body over the limit, before parsing it
(the model server and the drift monitor both use it)."""

from __future__ import annotations

import orjson

__all__ = ["BodyLimit", "too_large"]


class _TooLarge(Exception):
    pass


def too_large(size: int, max_body_bytes: int) -> bytes:
    """The 413 body for a request body of ``size`` bytes or more."""
    return orjson.dumps(
        {
            "error": f"request body of {size} bytes or more is over the limit of {max_body_bytes} bytes;"
            " send fewer rows per request"
        }
    )


class BodyLimit:
    def __init__(self, app, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                await self._reject(send, int(value))
                return
        received = 0
        over = False
        started = False

        async def limited_receive():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    over = True
                    raise _TooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if over:
                # The app caught the error while reading (FastAPI answers 400 to any failure
                # there): answer 413 instead of whatever it says.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._reject(send, received)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, received)

    async def _reject(self, send, size: int) -> None:
        body = too_large(size, self.max_body_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
