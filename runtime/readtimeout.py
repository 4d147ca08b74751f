"""A time limit on reading each request, for every HTTP server of the project.

uvicorn times out only an idle kept-alive connection, after an answer. A connection that sends
nothing, a request whose headers or body stall or trickle, holds its socket (and the
coroutine waiting on the body) for as long as the client likes: a few hundred such clients use
up a process's file descriptors, and every other caller is refused. Here each request must
arrive whole, headers and body, within ``read_timeout_s`` of its first byte (of the connection
opening, for the first one). Else it gets 408 ``{"error": "..."}`` naming the setting, unless an
answer has begun, and the connection is closed. Time spent answering is not counted: that is
the latency budget's business.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["guarded_http"]


def guarded_http(read_timeout_s: float, setting: str) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, with each request read within ``read_timeout_s``; pass
    it as uvicorn's ``http``. ``setting`` is what sets the limit, named in the 408."""
    message = orjson.dumps(
        {"error": f"request not received in full within {read_timeout_s:g} s ({setting}); the connection is closed"}
    )
    answer = b"".join(
        [
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n",
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(message),
            message,
        ]
    )

    class ReadTimeoutProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._began: float | None = None  # when the request being read began
            self._current: RequestResponseCycle | None = None  # its cycle, once its headers are in
            self._read_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._read_timer = self.loop.call_later(read_timeout_s, self._timed_out)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._began is not None and self._read_timer is None:
                self._read_timer = self.loop.call_at(self._began + read_timeout_s, self._timed_out)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._began, self._current = self.loop.time(), None

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._current = self.cycle

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._began = None
            self._stop_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timer()
            super().connection_lost(exc)

        def _stop_timer(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def _timed_out(self) -> None:
            self._read_timer = None
            if self.transport.is_closing():
                return
            # No 408 where nothing was sent, nor where this request's answer has begun (a 413
            # answered before the rest of an oversized body).
            if self._began is not None and (self._current is None or not self._current.response_started):
                self.transport.write(answer)
            self.transport.close()

    return ReadTimeoutProtocol
