"""The V2 infer route, answered in front of KServe's FastAPI app.

Every infer request passes here and nowhere else: its body is read under the body limit (413
past it, from ``Content-Length`` before reading or while reading), parsed by the project's
codec (JSON, or the binary tensor extension), answered by the served model, and the answer
written back in one ``http.response.start`` and one body. Health, metadata, ``/metrics`` and
the rest go on to KServe's app, through its routing and middlewares. Skipping those here is
what matters on the hot path: each middleware and the router wrap ``receive`` and ``send`` in
Python coroutines, work an infer request pays for on the event loop every time. KServe's V1
routes and its model repository extension are answered 404 here (``UNSERVED``).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import orjson
from prometheus_client import Gauge

from runtime.bodylimit import declared_too_large, receive_body
from runtime.errors import MLServingError, ModelUnavailable, route_error
from runtime.protocol import error_body
from runtime.protocol.binary import HEADER_LENGTH, OCTET_STREAM, encode_response
from runtime.protocol.deadline import TIMEOUT_HEADER, RequestTimedOut, header_timeout_s
from runtime.protocol.rest import read_request

__all__ = ["InferFront", "INFER_PATH", "IN_FLIGHT", "SERVED"]

log = logging.getLogger(__name__)

IN_FLIGHT = Gauge("ml_serving_infer_in_flight", "V2 infer requests being answered.", ["model"])

INFER_PATH = re.compile(r"/v2/models/(?P<name>[^/]+)(?:/versions/[^/]+)?/infer")
"""The V2 infer paths (with or without a version), as Starlette's ``{model_name}`` matches them."""

UNSERVED = re.compile(r"/v1/|/v2/repository/")
"""KServe's routes that are not served: its V1 protocol, which fails on a V2 model (``:predict``
was a 500), and its model repository extension, which loaded and unloaded models for any
caller, with no credentials (over gRPC too: runtime/modelserver/server.py)."""

SETTING = "--max_body_bytes"
"""What sets the model server's body limit, named in its 413."""

_JSON = b"application/json"
_HEADER_LENGTH = HEADER_LENGTH.encode()
_TIMEOUT = TIMEOUT_HEADER.encode()


class InferFront:
    """ASGI app: V2 infer POSTs answered here, everything else passed on to ``app``.

    ``served(name)`` is the model served under ``name`` (``infer``, ``ready``), or raises
    ``ModelNotFound``.
    """

    def __init__(self, app: Any, served: Any, max_body_bytes: int) -> None:
        self.app = app
        self.served = served
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if scope["method"] == "POST":
                match = INFER_PATH.fullmatch(scope["path"])
                if match is not None:
                    await self._infer(match["name"], scope, receive, send)
                    return
            if UNSERVED.match(scope["path"]):
                error = route_error(scope["method"], scope["path"], 404, SERVED)
                await _answer(send, 404, orjson.dumps({"error": error}))
                return
        await self.app(scope, receive, send)

    async def _infer(self, name: str, scope: dict, receive: Any, send: Any) -> None:
        arrived = time.monotonic()
        header_length = timeout = None
        for key, value in scope["headers"]:
            if key == _HEADER_LENGTH:
                header_length = value.decode("latin-1")
            elif key == _TIMEOUT:
                timeout = value.decode("latin-1")
        try:
            timeout_s = header_timeout_s(timeout)
            refused = declared_too_large(scope["headers"], self.max_body_bytes, SETTING)
            if refused is not None:
                raise refused
            model = self.served(name)
            if not model.ready:
                raise ModelUnavailable(f"model '{name}' is not ready")
            body = await receive_body(receive, self.max_body_bytes, SETTING)
        except MLServingError as exc:
            await _error(send, exc)
            return
        if body is None:
            return  # the client left
        gauge = IN_FLIGHT.labels(name)
        gauge.inc()
        try:
            parsed = read_request(body, header_length)
            response = await model.infer(parsed.request, None if timeout_s is None else arrived + timeout_s)
            content, binary_header = encode_response(response.model_dump(exclude_none=True), parsed.outputs)
        except MLServingError as exc:
            if exc.status >= 500 and not isinstance(exc, RequestTimedOut):  # timeouts: counted, not logged
                log.error("%s", exc.message)
            await _error(send, exc)
            return
        except Exception as exc:  # a bug, not the client's fault: 500 with what it was, the trace in the log
            log.exception("infer on model '%s' failed", name)
            await _answer(send, 500, orjson.dumps({"error": f"{type(exc).__name__}: {exc}"}))
            return
        finally:
            gauge.dec()
        if binary_header is None:
            await _answer(send, 200, content)
        else:
            await _answer(send, 200, content, OCTET_STREAM.encode(), [(_HEADER_LENGTH, str(binary_header).encode())])


SERVED = (
    "this model server speaks the V2 protocol"
    " (GET /v2/health/ready, GET /v2/models/<name>, POST /v2/models/<name>/infer)"
)
"""What a 404 or 405 of the model server says is served."""


async def _error(send: Any, exc: MLServingError) -> None:
    await _answer(send, int(exc.status), orjson.dumps(error_body(exc)))


async def _answer(
    send: Any, status: int, body: bytes, content_type: bytes = _JSON, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(extra or ())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
