"""How long a caller will wait for its answer, as a V2 request carries it.

Two ways in, read the same by the gateway and the model server:

- ``parameters.timeout``: Triton's request timeout in microseconds, which ``tritonclient``'s
  ``infer(timeout=...)`` sends over REST and gRPC; 0 is no timeout, as Triton reads it;
- the ``x-ml-serving-timeout-ms`` header: what the gateway still waits for an upstream call,
  on every call it sends a model server, so that a request whose caller has gone is not
  predicted (its batch queue skips it, as Triton's dynamic batcher skips a request past its
  timeout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.errors import InvalidInput, ModelUnavailable

__all__ = ["TIMEOUT_HEADER", "RequestTimedOut", "header_timeout_s", "parameter_timeout_s", "sooner"]

TIMEOUT_HEADER = "x-ml-serving-timeout-ms"


class RequestTimedOut(ModelUnavailable):
    """A request's timeout ran out before its predict started: it was not predicted (503, as
    Triton answers a request whose timeout expired in its queue)."""


def parameter_timeout_s(parameters: Mapping[str, Any] | None) -> float | None:
    """``parameters.timeout`` in seconds, None when absent or 0; ``InvalidInput`` naming it
    when it is not a whole number of microseconds."""
    value = parameters.get("timeout") if parameters else None
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise InvalidInput(
            f"parameters.timeout: expected the request's timeout in microseconds, an integer >= 0; got {value!r}"
        )
    return value / 1e6 if value else None


def header_timeout_s(value: str | None) -> float | None:
    """The ``x-ml-serving-timeout-ms`` header in seconds, None when absent; ``InvalidInput``
    naming it when it is not a number of milliseconds >= 0."""
    if value is None:
        return None
    try:
        ms = float(value)
    except ValueError:
        ms = -1.0
    if not ms >= 0 or ms == float("inf"):
        raise InvalidInput(f"{TIMEOUT_HEADER}: expected a number of milliseconds >= 0; got {value!r}")
    return ms / 1000


def sooner(a: float | None, b: float | None) -> float | None:
    """The earlier of two optional deadlines."""
    if a is None:
        return b
    return a if b is None else min(a, b)
