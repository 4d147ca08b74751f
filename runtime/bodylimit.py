"""Reading an HTTP request body up to a limit: refused (413) from its declared length when it
says so, else as soon as the bytes read pass the limit, so an oversized body is never held."""

from __future__ import annotations

from starlette.requests import Request

from runtime.errors import PayloadTooLarge

__all__ = ["read_limited"]


async def read_limited(request: Request, limit: int, setting: str = "") -> bytes:
    """The body, or ``PayloadTooLarge`` naming ``limit`` (and the ``setting`` that sets it)."""
    named = f" ({setting})" if setting else ""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit} bytes{named}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes{named}")
        chunks.append(chunk)
    return b"".join(chunks)
