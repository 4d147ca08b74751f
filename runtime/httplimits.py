"""Limits on reading each request, for every HTTP server of the project: its time and the size
of its head.

uvicorn times out only an idle kept-alive connection, after an answer. A connection that sends
nothing, a request whose headers or body stall or trickle, holds its socket (and the coroutine
waiting on the body) for as long as the client likes: enough such clients use up a
process's file descriptors, and every other caller is refused. And uvicorn's httptools protocol
puts no bound on a request's line and headers: one client sending an endless header grows the
process's memory by what it sends, and its CPU more than in proportion (150 MB of one header
took 8 s of CPU, and climbing), where uvicorn's h11 protocol stops at 16 KiB.

Here each request must arrive whole, headers and body, within ``read_timeout_s`` of its first
byte (of the connection opening, for the first one), else 408; and its request line and headers
must fit in ``max_head_bytes`` (64 KiB, Envoy's default is 60), else 431. Either answer is
``{"error": "..."}`` and closes the connection; neither is sent where this request's answer has
begun. Time spent answering is not counted: that is the latency budget's business.

And each answer's head goes out with its body (``_HeadWithBody``), in one write where uvicorn
makes two: on a kept-alive connection with TCP_NODELAY every write is a segment of its own and a
wake-up of the client, and on loopback the writer pays for the reader's receive path too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["MAX_HEAD_BYTES", "guarded_http"]

MAX_HEAD_BYTES = 64 * 1024

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _HeadWithBody:
    """One request's transport as its uvicorn cycle sees it: the cycle's first write (the
    response's status line and headers; uvicorn writes nothing else before them but an interim
    100 Continue, which goes at once) is held and goes out with the next write, the body's first
    part. Closing sends what is held first, as uvicorn would have."""

    __slots__ = ("_transport", "_head", "_expecting")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._expecting = True

    def write(self, data: bytes) -> None:
        if self._head is not None:
            # One write of both (uvloop sends a list at once), without copying a large body.
            head, self._head = self._head, None
            self._transport.writelines([head, data])
        elif self._expecting and data != _CONTINUE:
            self._head, self._expecting = data, False
        else:
            self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            self._transport.write(self._head)
            self._head = None
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _answer(status: bytes, error: str) -> bytes:
    body = orjson.dumps({"error": error})
    return b"".join(
        [
            b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n",
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body),
            body,
        ]
    )


def guarded_http(read_timeout_s: float, setting: str, max_head_bytes: int = MAX_HEAD_BYTES) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, with each request read within ``read_timeout_s`` and its
    head within ``max_head_bytes``; pass it as uvicorn's ``http``. ``setting`` is what sets the
    time limit, named in the 408."""
    late = _answer(
        b"408 Request Timeout",
        f"request not received in full within {read_timeout_s:g} s ({setting}); the connection is closed",
    )
    large = _answer(
        b"431 Request Header Fields Too Large",
        f"request line and headers over {max_head_bytes} bytes; send at most that; the connection is closed",
    )

    class LimitedProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._began: float | None = None  # when the request being read began
            self._current: RequestResponseCycle | None = None  # its cycle, once its headers are in
            self._read_timer: asyncio.TimerHandle | None = None
            self._in_head = True  # reading a request line and headers (or waiting for them)
            self._head_bytes = 0
            self._tail = b""  # the last bytes of the head so far, for a blank line split over chunks

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._read_timer = self.loop.call_later(read_timeout_s, self._timed_out)

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                # The head's bytes in this chunk: up to its blank line, or all of it. Refused
                # before the parser holds them. (A head that begins in the chunk where the
                # previous request ends is counted from the next chunk.)
                # The blank line may straddle the previous chunk: look there first, then in this
                # chunk itself (never copied: it may carry a large body).
                tail = self._tail
                seam = (tail + data[:3]).find(b"\r\n\r\n") if tail else -1
                end = seam + 4 - len(tail) if seam >= 0 else data.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else (end if seam >= 0 else end + 4)
                if self._head_bytes > max_head_bytes:
                    self._refuse(large)
                    return
                self._tail = (tail + data[-3:])[-3:]
            super().data_received(data)
            if self._read_timer is not None or self.transport.is_closing():
                return
            if self._began is not None:
                self._read_timer = self.loop.call_at(self._began + read_timeout_s, self._timed_out)
            elif self._in_head and (self.cycle is None or self.cycle.response_complete):
                # Bytes that began no request (blank lines, which the parser skips): uvicorn has
                # stopped its keep-alive timer, so this one must run, or the connection stays.
                self._read_timer = self.loop.call_later(read_timeout_s, self._timed_out)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._began, self._current = self.loop.time(), None

        def on_headers_complete(self) -> None:
            before = self.cycle
            super().on_headers_complete()
            if self.cycle is not None and self.cycle is not before:
                # A new cycle only: an upgrade returns before making one, and the cycle still
                # answering the previous request must keep the transport it writes through.
                self.cycle.transport = _HeadWithBody(self.transport)  # type: ignore[assignment]
            self._current = self.cycle
            self._in_head, self._head_bytes, self._tail = False, 0, b""

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._began, self._in_head = None, True
            self._stop_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timer()
            super().connection_lost(exc)

        def _stop_timer(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._began is not None and self._read_timer is None and not self.transport.is_closing():
                # A pipelined request read while the previous one was answered: timed from now.
                self._began = self.loop.time()
                self._read_timer = self.loop.call_later(read_timeout_s, self._timed_out)

        def _timed_out(self) -> None:
            self._read_timer = None
            if self.transport.is_closing():
                return
            if self.pipeline or (self._in_head and self.cycle is not None and not self.cycle.response_complete):
                return  # behind an answer still being made: not late; timed again once it is sent
            self._refuse(late)

        def _refuse(self, answer: bytes) -> None:
            # No answer where nothing was sent, nor where an answer has begun and not ended (a
            # 413 answered before the rest of an oversized body, an answer being written).
            if self._in_head:
                sent = self._head_bytes > 0 or self._began is not None
                answering = self.cycle is not None and not self.cycle.response_complete
            else:
                sent, answering = True, self._current is not None and self._current.response_started
            if sent and not answering:
                self.transport.write(answer)
            self._stop_timer()
            self.transport.close()

    return LimitedProtocol
