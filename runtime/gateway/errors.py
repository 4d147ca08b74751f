"""The gateway's errors, and the reasons a request ends without a model's answer.

Each reason is a metric label (``reason`` of the fallback and upstream-failure counters) and the
``x-ml-serving-fallback`` header's value. They are enums so that every counter is created for
every reason up front: a reason added here is counted, never a ``KeyError`` on the request path.
"""

from __future__ import annotations

from enum import StrEnum

import orjson

from runtime.errors import MLServingError

__all__ = ["CallFailure", "NoCall", "FallbackReason", "UpstreamError", "UpstreamRejected"]


class CallFailure(StrEnum):
    """Why a call to a model server gave no usable answer."""

    TIMEOUT = "timeout"
    """No answer within the time left of the latency budget (or the client's backstop)."""
    CONNECT = "connect"
    """The connection could not be opened."""
    DISCONNECTED = "disconnected"
    """The connection broke before the whole answer came."""
    CLIENT = "client"
    """Any other failure of the HTTP client."""
    HTTP_5XX = "http_5xx"
    """The model server answered with a 5xx status."""
    BAD_RESPONSE = "bad_response"
    """An answer that is not a V2 inference response with one row per input row, or a 3xx."""
    UNREACHABLE = "unreachable"
    """A health probe got no answer."""


class NoCall(StrEnum):
    """Why no model server was called at all."""

    NO_VARIANT = "no_variant"
    """No live variant had time left to be called."""
    BREAKER_OPEN = "breaker_open"
    """Every variant's circuit breaker was open."""


FallbackReason = CallFailure | NoCall
"""Why a request got the fallback: the last call's failure, or why none was made."""


class UpstreamError(Exception):
    """A call to a model server that gave no usable answer; ``reason`` labels the metric."""

    def __init__(self, reason: CallFailure, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason


class UpstreamRejected(MLServingError):
    """The model server refused the request itself (4xx): the client's input, passed through."""

    def __init__(self, status: int, body: bytes) -> None:
        try:
            message = orjson.loads(body).get("error") or body.decode(errors="replace")
        except (orjson.JSONDecodeError, AttributeError):
            message = body.decode(errors="replace")
        super().__init__(str(message))
        self.status = status
