"""Headers forwarded to model servers: an explicit allowlist, nothing else."""

from __future__ import annotations

import random
from collections.abc import Mapping

__all__ = ["FORWARDABLE_HEADERS", "REQUEST_ID", "VARIANT", "FALLBACK", "forward_headers", "request_id"]

REQUEST_ID = "x-request-id"
VARIANT = "x-ml-serving-variant"
"""Response header: the variant that answered (``fallback`` when none did)."""
FALLBACK = "x-ml-serving-fallback"
"""Response header, on fallback answers only: why the fallback answered."""

# ``authorization`` is deliberately absent: the client's bearer token is the gateway's own
# credential, and predictors (shadows included) are authorized by mesh identity, not by it.
FORWARDABLE_HEADERS = frozenset(
    {
        REQUEST_ID,
        "traceparent",
        "tracestate",
        "baggage",
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-b3-flags",
        "x-ot-span-context",
    }
)


def request_id(headers: Mapping[str, str]) -> str:
    """The caller's request id, or a new one: 128 random bits as 32 hex digits, from the
    process's generator (seeded from the OS at start and again in a forked child) rather than
    ``os.urandom``, a system call per request; an id names a request, it guards nothing."""
    return headers.get(REQUEST_ID) or f"{random.getrandbits(128):032x}"


def forward_headers(headers: Mapping[str, str], rid: str) -> dict[str, str]:
    """The allowlisted headers of a request (keys lower-case), with the request id set."""
    out = {name: value for name, value in headers.items() if name.lower() in FORWARDABLE_HEADERS}
    out = {name.lower(): value for name, value in out.items()}
    out[REQUEST_ID] = rid
    out["content-type"] = "application/json"
    return out
