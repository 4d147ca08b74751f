"""Adaptive batching: gather concurrent requests into one predict call, split the result back.

A single worker takes waiting requests in arrival order. It dispatches once the batch holds
``max_batch_size`` rows, once ``max_latency_ms`` have passed since the first request of the batch
arrived, or as soon as it holds as many requests as the previous batch did. That last rule is
what makes batching adaptive: under load the previous batch was full, so the worker gathers; a
lone caller's previous batch held one request, so its next request goes out at once instead of
waiting out the window. A request of ``max_batch_size`` rows or more is served alone.

A caller that must prepare a request before it can be batched (decoding images in worker
threads) announces it with ``coming()``: while announced requests are on their way, the worker
waits for them too (within the window), since they will arrive in a moment. Without that, a
worker fed one decoded request at a time never sees more than the previous batch held and
runs one pass per request. A lone request announces nothing ahead of it and goes out at once.

One predict runs at a time, in a dedicated thread, so the event loop keeps reading requests
while the model works. With ``inline`` it runs on the event loop itself instead: for a model
on a single CPU core, where the thread could not run beside the loop anyway, and handing each
batch over and back only costs context switches (and, as the thread's native calls release the
GIL, a switch at each of them while the loop waits for the GIL).

A request may carry a deadline, when its caller stops waiting: one still queued past it is
answered ``RequestTimedOut`` and never predicted (counted in ``ml_serving_batch_expired_total``),
and a batch stops gathering by the soonest deadline among its requests. Under overload that is
what keeps the model's time for callers who are still there.

Requests of different layouts (one omits an optional input another sends) share a batch but not
a predict call: each layout is stacked and predicted on its own. If a batch's predict raises,
each request of it is retried alone, so one request's bad rows fail that request only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from runtime.batching.metrics import BATCH_EXPIRED, BATCH_REQUESTS, BATCH_RETRIES, BATCH_ROWS, QUEUE_WAIT
from runtime.batching.rows import concat_rows, layout_of, split_rows
from runtime.errors import ModelUnavailable
from runtime.protocol.deadline import RequestTimedOut

__all__ = ["AdaptiveBatcher", "Unbatched", "ShuttingDown"]


class ShuttingDown(ModelUnavailable):
    """A request arrived after the server began to drain."""


def _closed_error() -> ShuttingDown:
    return ShuttingDown("the model server is shutting down and accepts no new requests; retry on another replica")


def _timed_out(model: str, waited_s: float) -> RequestTimedOut:
    BATCH_EXPIRED.labels(model).inc()
    return RequestTimedOut(
        f"model '{model}': the request's timeout ran out after {waited_s * 1000:.1f} ms in the batch queue,"
        " before its predict; it was not predicted"
    )


@dataclass(slots=True)
class _Waiting:
    payload: Any
    rows: int
    future: asyncio.Future
    deadline: float | None = None
    """When its caller stops waiting (monotonic): past it, the request is dropped unpredicted."""
    arrived: float = field(default_factory=time.monotonic)


class _Runner:
    """Where predict calls run: one at a time in a dedicated thread, or on the event loop (``inline``)."""

    def __init__(self, inline: bool) -> None:
        self._executor = None if inline else ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")

    @property
    def inline(self) -> bool:
        return self._executor is None

    async def call(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._executor is None:
            return function(*args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def shutdown(self) -> None:
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)


class Unbatched:
    """Each request is its own predict call, one at a time in a dedicated thread (or ``inline``);
    one whose deadline has passed when its turn comes is not predicted."""

    def __init__(self, predict: Callable[[Any], Any], *, inline: bool = False, model: str = "model") -> None:
        self._predict = predict
        self._label = model
        self._rows, self._requests = BATCH_ROWS.labels(model), BATCH_REQUESTS.labels(model)
        self._runner = _Runner(inline)
        self._closed = False

    @property
    def inline(self) -> bool:
        return self._runner.inline

    async def predict(self, payload: Any, rows: int, deadline: float | None = None) -> Any:
        if self._closed:
            raise _closed_error()
        arrived, started = time.monotonic(), [False]
        try:
            return await self._runner.call(self._predict_by, payload, rows, deadline, arrived, started)
        except asyncio.CancelledError:
            # Its caller gone at its deadline (a gRPC call is cancelled then) before its turn.
            now = time.monotonic()
            if deadline is not None and now >= deadline and not started[0]:
                _timed_out(self._label, now - arrived)
            raise

    def _predict_by(self, payload: Any, rows: int, deadline: float | None, arrived: float, started: list) -> Any:
        started[0] = True
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise _timed_out(self._label, now - arrived)
        # A batch of one, counted as the batcher counts its batches (what the alert rules read).
        self._rows.observe(rows)
        self._requests.observe(1)
        return self._predict(payload)

    @contextlib.contextmanager
    def coming(self) -> Iterator[None]:
        """Nothing to wait for: each request goes alone."""
        yield

    async def close(self) -> None:
        self._closed = True
        await self._runner.shutdown()


class AdaptiveBatcher:
    def __init__(
        self,
        predict: Callable[[Any], Any],
        *,
        max_batch_size: int,
        max_latency_ms: float,
        model: str = "model",
        concat: Callable[[Sequence[Any]], Any] = concat_rows,
        split: Callable[[Any, Sequence[int]], list[Any]] = split_rows,
        layout: Callable[[Any], Any] = layout_of,
        inline: bool = False,
    ) -> None:
        if max_batch_size < 1 or max_latency_ms <= 0:
            raise ValueError(
                f"max_batch_size must be >= 1 and max_latency_ms > 0 (got {max_batch_size}, {max_latency_ms})"
            )
        self.max_batch_size = max_batch_size
        self.max_latency_s = max_latency_ms / 1000
        self._predict = predict
        self._concat = concat
        self._split = split
        self._layout = layout
        self._label = model
        self._queue: deque[_Waiting] = deque()
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._expected = 1
        self._coming = 0
        self._closed = False
        self._runner = _Runner(inline)

    @property
    def inline(self) -> bool:
        return self._runner.inline

    async def predict(self, payload: Any, rows: int, deadline: float | None = None) -> Any:
        """The prediction for ``payload`` (``rows`` rows), computed within some batch; by
        ``deadline`` (monotonic), if given, its predict starts, or ``RequestTimedOut``."""
        if self._closed:
            raise _closed_error()
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"batcher-{self._label}")
        waiting = _Waiting(payload, rows, asyncio.get_running_loop().create_future(), deadline)
        self._queue.append(waiting)
        self._arrived.set()
        return await waiting.future

    @contextlib.contextmanager
    def coming(self) -> Iterator[None]:
        """Announce a request being prepared: a gathering batch waits for it, within the window.

        Leave the block right before ``predict`` (or when the request fails), in the same step
        of the event loop, so the worker never sees it neither coming nor queued.
        """
        self._coming += 1
        try:
            yield
        finally:
            self._coming -= 1
            self._arrived.set()

    async def close(self) -> None:
        """Refuse new requests, finish every queued one, then stop the worker."""
        self._closed = True
        self._arrived.set()
        if self._worker is not None:
            await self._worker
        await self._runner.shutdown()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            batch, rows = self._take([], 0)
            if not batch:
                continue  # every queued request had run out of time
            while rows < self.max_batch_size and (len(batch) < self._expected or self._coming) and not self._closed:
                # Gather within the window, and never past a member's own deadline.
                remaining = _gather_until(batch, batch[0].arrived + self.max_latency_s) - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    break
                batch, rows = self._take(batch, rows)
                if self._queue:
                    break  # the next request does not fit
            self._expected = max(1, len(batch))
            await self._dispatch(batch)

    def _take(self, batch: list[_Waiting], rows: int) -> tuple[list[_Waiting], int]:
        now = time.monotonic()
        while self._queue:
            nxt = self._queue[0]
            if nxt.deadline is not None and nxt.deadline <= now:
                self._queue.popleft()
                self._expire(nxt, now)
                continue
            if batch and rows + nxt.rows > self.max_batch_size:
                break
            self._queue.popleft()
            batch.append(nxt)
            rows += nxt.rows
            if rows >= self.max_batch_size:
                break
        return batch, rows

    def _expire(self, waiting: _Waiting, now: float) -> None:
        # Counted even when its caller has already gone (a gRPC call is cancelled at its deadline).
        error = _timed_out(self._label, now - waiting.arrived)
        if not waiting.future.done():
            waiting.future.set_exception(error)

    async def _dispatch(self, batch: list[_Waiting]) -> None:
        # Members were taken in time, and the gathering ended by the soonest of their deadlines.
        # One done already was cancelled by its caller: counted as out of time if it was.
        now = time.monotonic()
        for waiting in batch:
            if waiting.future.done() and waiting.deadline is not None and waiting.deadline <= now:
                _timed_out(self._label, now - waiting.arrived)
        live = [w for w in batch if not w.future.done()]
        if not live:
            return
        for waiting in live:
            QUEUE_WAIT.labels(self._label).observe(now - waiting.arrived)
        BATCH_ROWS.labels(self._label).observe(sum(w.rows for w in live))
        BATCH_REQUESTS.labels(self._label).observe(len(live))
        try:
            results = await self._runner.call(self._predict_batch, [w.payload for w in live], [w.rows for w in live])
        except Exception as exc:
            if len(live) == 1:
                _settle(live[0], error=exc)
                return
            BATCH_RETRIES.labels(self._label).inc()
            for waiting in live:
                try:
                    result = await self._runner.call(self._predict, waiting.payload)
                except Exception as single:
                    _settle(waiting, error=single)
                else:
                    _settle(waiting, result=result)
            return
        for waiting, result in zip(live, results):
            _settle(waiting, result=result)

    def _predict_batch(self, payloads: list[Any], sizes: list[int]) -> list[Any]:
        if len(payloads) == 1:
            return [self._predict(payloads[0])]
        groups: dict[Any, list[int]] = {}
        for i, payload in enumerate(payloads):
            groups.setdefault(self._layout(payload), []).append(i)
        results: list[Any] = [None] * len(payloads)
        for members in groups.values():
            if len(members) == 1:
                parts = [self._predict(payloads[members[0]])]
            else:
                joined = self._concat([payloads[i] for i in members])
                parts = self._split(self._predict(joined), [sizes[i] for i in members])
            for i, part in zip(members, parts):
                results[i] = part
        return results


def _gather_until(batch: list[_Waiting], window_end: float) -> float:
    """The end of the window, or the soonest deadline among the batch's requests if earlier."""
    for waiting in batch:
        if waiting.deadline is not None and waiting.deadline < window_end:
            window_end = waiting.deadline
    return window_end


def _settle(waiting: _Waiting, result: Any = None, error: BaseException | None = None) -> None:
    if waiting.future.done():
        return  # the caller went away
    if error is not None:
        waiting.future.set_exception(error)
    else:
        waiting.future.set_result(result)
