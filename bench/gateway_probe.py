"""The gateway with probes on where a request's time goes, for bench/gateway.py.

    .venv/bin/python bench/gateway_probe.py OUT.json --config gateway.json --host 127.0.0.1 --port N

Runs ``python -m runtime.gateway`` unchanged in this process, with four probes that only
observe: event-loop lag (a task that asks to wake every millisecond and records how late it
woke), garbage-collection pauses (``gc.callbacks``), the coalescer (each caller's time in
``Coalescer.post`` beside the upstream call that served it, so queueing for a slot shows as the
difference) and the connection pool (aiohttp's trace hooks for a request queued for a
connection). ``POST /probe/reset`` starts a new window (after a warm-up); ``GET /probe`` ends it
and answers its figures as JSON, and they are written to OUT.json when the gateway stops. The
lag sampler runs only inside a window: waking every millisecond, it would otherwise take CPU
time from whatever shares the gateway's core while other targets are measured.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runtime.gateway import app as gateway_app  # noqa: E402
from runtime.gateway import coalesce, upstream  # noqa: E402

SAMPLE_S = 0.001


class Window:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.monotonic()
        self.lag_ms: list[float] = []
        self.gc_ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.caller_ms: list[float] = []
        """Each caller's time in Coalescer.post (queue wait + its upstream call + sharing out)."""
        self.upstream_ms: list[float] = []
        self.upstream_rows: list[int] = []
        self.pool_wait_ms: list[float] = []
        self.pool_queued = 0
        self.request_ms: list[float] = []
        """The gateway's whole time on each request, body read to response built (Server-Timing)."""

    def summary(self) -> dict[str, Any]:
        def stats(values: list[float]) -> dict[str, float]:
            if not values:
                return {"n": 0}
            a = np.asarray(values)
            return {
                "n": int(a.size),
                "p50": float(np.percentile(a, 50)),
                "p99": float(np.percentile(a, 99)),
                "max": float(a.max()),
                "sum": float(a.sum()),
            }

        seconds = time.monotonic() - self.started
        return {
            "seconds": seconds,
            "loopLagMs": stats(self.lag_ms),
            "loopStallsOver5Ms": sum(1 for v in self.lag_ms if v > 5),
            "gcPauseMs": {str(g): stats(v) for g, v in self.gc_ms.items()},
            "callerMs": stats(self.caller_ms),
            "upstreamMs": stats(self.upstream_ms),
            "upstreamRowsMean": float(np.mean(self.upstream_rows)) if self.upstream_rows else 0.0,
            "poolWaitMs": stats(self.pool_wait_ms),
            "poolQueued": self.pool_queued,
            "requestMs": stats(self.request_ms),
            "trackedObjects": len(gc.get_objects()),
            "frozenObjects": gc.get_freeze_count(),
        }


WINDOW = Window()


def _gc_probe() -> None:
    started: list[float] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            WINDOW.gc_ms[info["generation"]].append((time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(callback)


async def _lag_sampler() -> None:
    while True:
        expected = time.perf_counter() + SAMPLE_S
        await asyncio.sleep(SAMPLE_S)
        WINDOW.lag_ms.append(max(0.0, (time.perf_counter() - expected) * 1000))


def _patch_coalescer() -> None:
    post = coalesce.Coalescer.post

    async def timed_post(self: coalesce.Coalescer, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await post(self, *args, **kwargs)
        finally:
            WINDOW.caller_ms.append((time.perf_counter() - t0) * 1000)

    coalesce.Coalescer.post = timed_post  # type: ignore[method-assign]


def _patch_upstream() -> None:
    import aiohttp

    post = upstream.AiohttpUpstream.post
    init = upstream.AiohttpUpstream.__init__

    async def timed_post(self: upstream.AiohttpUpstream, path: str, body: bytes, headers: dict[str, str]) -> Any:
        t0 = time.perf_counter()
        try:
            return await post(self, path, body, headers)
        finally:
            WINDOW.upstream_ms.append((time.perf_counter() - t0) * 1000)
            WINDOW.upstream_rows.append(_rows(body))

    def traced_init(self: upstream.AiohttpUpstream, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        trace = aiohttp.TraceConfig()

        async def queued_start(_s: Any, context: Any, _p: Any) -> None:
            context.queued = time.perf_counter()
            WINDOW.pool_queued += 1

        async def queued_end(_s: Any, context: Any, _p: Any) -> None:
            WINDOW.pool_wait_ms.append((time.perf_counter() - context.queued) * 1000)

        trace.on_connection_queued_start.append(queued_start)
        trace.on_connection_queued_end.append(queued_end)
        trace.freeze()
        self._session._trace_configs.append(trace)

    upstream.AiohttpUpstream.post = timed_post  # type: ignore[method-assign]
    upstream.AiohttpUpstream.__init__ = traced_init  # type: ignore[method-assign]


def _rows(body: bytes) -> int:
    try:
        return int(json.loads(body)["inputs"][0]["shape"][0])
    except (ValueError, KeyError, IndexError, TypeError):
        return 0


class _ServerTiming:
    """Pure ASGI (no per-request task, unlike ``@app.middleware``): reads each answer's Server-Timing."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, self.watching(send) if scope["type"] == "http" else send)

    @staticmethod
    def watching(send: Any) -> Any:
        async def sent(message: Any) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers", ()):
                    if key == b"server-timing" and value.startswith(b"gateway;dur="):
                        WINDOW.request_ms.append(float(value[len(b"gateway;dur=") :]))
            await send(message)

        return sent


def _patch_app(out: Path) -> None:
    create_app = gateway_app.create_app

    def probed_app(*args: Any, **kwargs: Any) -> Any:
        from starlette.requests import Request
        from starlette.responses import Response

        app = create_app(*args, **kwargs)

        app.add_middleware(_ServerTiming)
        serve = app._serve  # the lane, which inference requests take ahead of the middleware

        async def watched(endpoint: Any, scope: Any, receive: Any, send: Any) -> None:
            await serve(endpoint, scope, receive, _ServerTiming.watching(send))

        app._serve = watched  # type: ignore[method-assign]

        sampler: list[asyncio.Task] = []

        def stop_sampler() -> None:
            while sampler:
                sampler.pop().cancel()

        async def reset(_: Request) -> Response:
            stop_sampler()
            WINDOW.reset()
            sampler.append(asyncio.get_running_loop().create_task(_lag_sampler()))
            return Response(b"{}", media_type="application/json")

        async def read(_: Request) -> Response:
            stop_sampler()
            return Response(json.dumps(WINDOW.summary()).encode(), media_type="application/json")

        app.add_route("/probe/reset", reset, methods=["POST"])
        app.add_route("/probe", read, methods=["GET"])
        lifespan = app.router.lifespan_context

        async def probed_lifespan(app_: Any) -> Any:
            try:
                async with lifespan(app_) as state:
                    yield state
            finally:
                stop_sampler()
                out.write_text(json.dumps(WINDOW.summary(), indent=2))

        from contextlib import asynccontextmanager

        app.router.lifespan_context = asynccontextmanager(probed_lifespan)
        return app

    gateway_app.create_app = probed_app


def main() -> int:
    out = Path(sys.argv[1])
    _gc_probe()
    _patch_coalescer()
    _patch_upstream()
    _patch_app(out)
    from runtime.gateway.__main__ import main as gateway_main

    return gateway_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
