"""HTTP content coding (gzip, deflate) of request and response bodies, as Triton's server does it.

``ContentCoding`` is an ASGI middleware (the gateway and the model server both use it):

- A request whose ``Content-Encoding`` is ``gzip`` or ``deflate`` (zlib, as RFC 9110 and
  tritonclient mean it) is decoded before the app sees it; the app gets the decoded body, with
  ``Content-Length`` set to its size and no ``Content-Encoding``. ``identity`` is no coding.
  The body limit applies to the DECOMPRESSED size, checked as the body inflates, so a small bomb
  is refused (413) before more than the limit is ever held. An unknown coding, or a stream that
  is corrupt, truncated or followed by junk, is 400 naming the header.
- A response is compressed only when the request's ``Accept-Encoding`` asks for gzip or deflate
  (the higher ``q`` wins, gzip on a tie), only when it is sent whole (not streamed), not already
  coded, and at least ``minimum_size`` bytes long (a smaller one fits one TCP segment anyway).
- The binary tensor extension's ``Inference-Header-Content-Length`` counts bytes of the decoded
  body, in both directions: the coding wraps the whole body, header and tensors together.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

__all__ = ["ContentCoding", "coded_body", "request_codings", "response_coding"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
SUPPORTED = "gzip, deflate"


class CodingError(Exception):
    """A request body that cannot be decoded; ``status`` is its HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def request_codings(header: str) -> list[str]:
    """The codings of a ``Content-Encoding`` value, in the order they were applied (identity dropped)."""
    codings = [token.strip().lower() for token in header.split(",")]
    unknown = [c for c in codings if c not in _WBITS and c not in ("identity", "")]
    if unknown:
        raise CodingError(
            400, f"Content-Encoding '{header}' is not supported: '{unknown[0]}'; send gzip, deflate or identity"
        )
    return ["gzip" if c == "x-gzip" else c for c in codings if c in _WBITS]


def coded_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether an ASGI request's body is coded (a ``Content-Encoding`` other than identity)."""
    return any(k.lower() == b"content-encoding" and v.strip().lower() not in (b"", b"identity") for k, v in headers)


def response_coding(header: str) -> str | None:
    """The coding to answer with for an ``Accept-Encoding`` value: gzip, deflate or None (identity)."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name.strip():
            weights[name.strip().lower()] = q
    wildcard = weights.get("*", 0.0)
    best = max(("gzip", "deflate"), key=lambda c: weights.get(c, wildcard))
    chosen = weights.get(best, wildcard)
    if chosen <= 0 or weights.get("identity", 0.0) > chosen:
        return None
    return best


class _Decoder:
    """One coding's decoder; its output is bounded by ``limit`` as it inflates."""

    def __init__(self, coding: str, header: str, limit: int, setting: str) -> None:
        self.coding, self.header, self.limit, self.setting = coding, header, limit, setting
        self.size = 0
        self._inflate = zlib.decompressobj(_WBITS[coding])

    def _corrupt(self, why: str) -> CodingError:
        return CodingError(
            400, f"request body is not valid {self.coding} data (Content-Encoding: {self.header}): {why}"
        )

    def feed(self, data: bytes) -> bytes:
        parts = []
        try:
            while data:
                part = self._inflate.decompress(data, self.limit - self.size + 1)
                self.size += len(part)
                if self.size > self.limit:
                    named = f" ({self.setting})" if self.setting else ""
                    raise CodingError(
                        413,
                        f"decompressed request body (Content-Encoding: {self.header}) exceeds the limit of "
                        f"{self.limit} bytes{named}",
                    )
                parts.append(part)
                if not self._inflate.eof:
                    data = self._inflate.unconsumed_tail
                elif data := self._inflate.unused_data:
                    if self.coding != "gzip":  # gzip may have several members; deflate is one stream
                        raise self._corrupt("data after the end of the stream")
                    self._inflate = zlib.decompressobj(_WBITS["gzip"])
        except zlib.error as exc:
            raise self._corrupt(str(exc)) from None
        return b"".join(parts)

    def finish(self) -> None:
        if not self._inflate.eof:
            raise self._corrupt("the stream ends before it is complete")


def _json_answer(status: int, message: str, extra: list[tuple[bytes, bytes]]) -> list[Message]:
    body = orjson.dumps({"error": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    ]


class _Compressing:
    """A ``send`` that compresses a whole response body with ``coding``."""

    def __init__(self, send: Send, coding: str, minimum_size: int, level: int) -> None:
        self.send, self.coding, self.minimum_size, self.level = send, coding, minimum_size, level
        self.start: Message | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        start, self.start = self.start, None
        if start is None:  # already sent: the rest passes as it is
            await self.send(message)
            return
        headers = [(k.lower(), v) for k, v in start.get("headers", [])]
        body = message.get("body", b"")
        keep = (
            message["type"] != "http.response.body"
            or message.get("more_body", False)
            or len(body) < self.minimum_size
            or any(k == b"content-encoding" for k, _ in headers)
            or any(k == b"content-type" and v.startswith(b"text/event-stream") for k, v in headers)
        )
        if not keep:
            compress = zlib.compressobj(self.level, zlib.DEFLATED, _WBITS[self.coding])
            body = compress.compress(body) + compress.flush()
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            headers += [
                (b"content-encoding", self.coding.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"vary", b"Accept-Encoding"),
            ]
            message = {**message, "body": body}
        await self.send({**start, "headers": headers})
        await self.send(message)


class ContentCoding:
    """Decode coded request bodies (bounded by ``max_body_bytes`` decoded) and code answers as asked."""

    def __init__(
        self, app: Any, max_body_bytes: int, setting: str = "", minimum_size: int = 500, level: int = 6
    ) -> None:
        self.app, self.max_body_bytes, self.setting = app, max_body_bytes, setting
        self.minimum_size, self.level = minimum_size, level

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_encoding = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"content-encoding"]
        if content_encoding:
            header = ", ".join(content_encoding)
            try:
                body = await self._decoded(receive, request_codings(header), header)
            except CodingError as exc:
                extra = [(b"accept-encoding", SUPPORTED.encode())] if exc.status == 400 else []
                for message in _json_answer(exc.status, exc.message, extra):
                    await send(message)
                return
            if body is None:  # the client left before its body was in
                return
            headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"content-encoding", b"content-length")]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
            receive = _replay(body, receive)
        await self.app(scope, receive, self.answering(scope, send))

    def answering(self, scope: MutableMapping[str, Any], send: Send) -> Send:
        """``send``, compressing the answer as the request's ``Accept-Encoding`` asks."""
        accept = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"accept-encoding"]
        coding = response_coding(", ".join(accept)) if accept else None
        return send if coding is None else _Compressing(send, coding, self.minimum_size, self.level)

    async def _decoded(self, receive: Receive, codings: list[str], header: str) -> bytes | None:
        # Codings are listed in the order they were applied: undo them last to first.
        decoders = [_Decoder(c, header, self.max_body_bytes, self.setting) for c in reversed(codings)]
        parts = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            data = message.get("body", b"")
            for decoder in decoders:
                data = decoder.feed(data)
            parts.append(data)
            if not message.get("more_body", False):
                break
        for decoder in decoders:
            decoder.finish()
        return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` whole, then whatever the connection says next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
