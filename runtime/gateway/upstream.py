"""HTTP clients to model servers: one connection pool per upstream.

Two interchangeable clients, aiohttp (the default) and httpx; ``bench/gateway.py`` measures
both behind the gateway, which is how the default was chosen. Each call's own deadline comes
from its caller (runtime/gateway/coalesce.py); the clients' ``timeout_s`` is the backstop for
any call that has none, so that no request can hold a connection for ever.

An inference answer is read up to ``max_answer_bytes`` (health and metadata probes, small and
bounded by their 1 s timeout, are read as they are): a larger one (declared, or read so far) is
``bad_response``, never held whole, so a model server gone wrong (an output far larger than its
signature, a URL that points at something else) cannot fill the gateway's memory within a budget.

A call whose connection closes before any answer arrives is sent once more, on a new connection:
that is a pooled connection the model server closed as the request went out (a race no idle
limit removes), and inference is a pure function of its inputs. A connection that drops once
the answer has begun is a failure of the call, never resent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal, Protocol

import aiohttp
import httpx
import yarl

from runtime.gateway.errors import CallFailure, UpstreamError

__all__ = ["Upstream", "make_upstream", "ClientKind"]

ClientKind = Literal["aiohttp", "httpx"]


class Upstream(Protocol):
    base_url: str

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]: ...

    async def get(self, path: str, timeout_s: float) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024
ANSWER_SETTING = "ML_SERVING_GATEWAY_UPSTREAM_MAX_ANSWER_BYTES"


async def _read_bounded(
    declared: int | None,
    read_all: Callable[[], Awaitable[bytes]],
    chunks: Callable[[], AsyncIterator[bytes]],
    limit: int,
) -> bytes:
    """The whole answer: by ``read_all`` when its declared length is within ``limit``, else
    from ``chunks`` while the bytes read stay within it."""
    if declared is not None:
        if declared > limit:
            raise _too_large(declared, limit, declared=True)
        return await read_all()
    parts, size = [], 0
    async for chunk in chunks():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit, declared=False)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(size: int, limit: int, declared: bool) -> UpstreamError:
    seen = f"{size} bytes" if declared else f"{size} bytes or more"
    return UpstreamError(
        CallFailure.BAD_RESPONSE, f"an answer of {seen} is over the limit of {limit} bytes ({ANSWER_SETTING})"
    )


IDLE_S = 4.0
"""How long an idle pooled connection is kept: under the 5 s after which uvicorn (KServe's model
server included) closes one. Kept longer (aiohttp's default is 15 s), a gateway too busy to read
that close in time writes its next request on a dead connection and gets a disconnect."""


class AiohttpUpstream:
    def __init__(
        self,
        base_url: str,
        max_connections: int,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_answer_bytes = max_answer_bytes
        self._urls: dict[str, yarl.URL] = {}
        connector = aiohttp.TCPConnector(
            limit=max_connections, ttl_dns_cache=300, enable_cleanup_closed=True, keepalive_timeout=IDLE_S
        )
        # No cookie jar and no automatic headers: both cost time on every call and a model
        # server needs neither.
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )

    def _url(self, path: str) -> yarl.URL:
        """The parsed URL of ``path`` (a few per variant), parsed once: a string is parsed per call."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = yarl.URL(self.base_url + path)
        return url

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        url = self._url(path)
        try:
            try:
                response = await self._session.post(url, data=body, headers=headers)
            except aiohttp.ServerDisconnectedError:  # closed before any answer: resend once
                response = await self._session.post(url, data=body, headers=headers)
            async with response:
                return response.status, await _read_bounded(
                    response.content_length, response.read, response.content.iter_any, self.max_answer_bytes
                )
        except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
            raise UpstreamError(CallFailure.TIMEOUT, str(exc)) from None
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError(CallFailure.CONNECT, str(exc)) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError) as exc:
            raise UpstreamError(CallFailure.DISCONNECTED, str(exc)) from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(CallFailure.CLIENT, str(exc)) from None

    async def get(self, path: str, timeout_s: float) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(timeout_s):
                async with self._session.get(self.base_url + path) as response:
                    return response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(CallFailure.UNREACHABLE, str(exc)) from None

    async def aclose(self) -> None:
        await self._session.close()


class HttpxUpstream:
    def __init__(
        self,
        base_url: str,
        max_connections: int,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_answer_bytes = max_answer_bytes
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=IDLE_S
        )
        # identity: httpx asks for gzip by default, and a model server that honours it would
        # spend CPU compressing answers for a hop inside the cluster.
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            limits=limits,
            timeout=httpx.Timeout(timeout_s),
            headers={"accept-encoding": "identity"},
        )

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        request = self._client.build_request("POST", path, content=body, headers=headers)
        try:
            try:
                response = await self._client.send(request, stream=True)
            except httpx.RemoteProtocolError:  # closed before any answer: resend once
                response = await self._client.send(request, stream=True)
            try:
                declared = response.headers.get("content-length")
                return response.status_code, await _read_bounded(
                    int(declared) if declared and declared.isdigit() else None,
                    response.aread,
                    response.aiter_raw,
                    self.max_answer_bytes,
                )
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise UpstreamError(CallFailure.TIMEOUT, str(exc)) from None
        except httpx.ConnectError as exc:
            raise UpstreamError(CallFailure.CONNECT, str(exc)) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise UpstreamError(CallFailure.DISCONNECTED, str(exc)) from None
        except httpx.HTTPError as exc:
            raise UpstreamError(CallFailure.CLIENT, str(exc)) from None

    async def get(self, path: str, timeout_s: float) -> tuple[int, bytes]:
        try:
            response = await self._client.get(path, timeout=timeout_s)
            return response.status_code, response.content
        except httpx.HTTPError as exc:
            raise UpstreamError(CallFailure.UNREACHABLE, str(exc)) from None

    async def aclose(self) -> None:
        await self._client.aclose()


def make_upstream(
    kind: ClientKind,
    base_url: str,
    max_connections: int = 256,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
) -> Upstream:
    if kind == "httpx":
        return HttpxUpstream(base_url, max_connections, timeout_s, max_answer_bytes)
    return AiohttpUpstream(base_url, max_connections, timeout_s, max_answer_bytes)
