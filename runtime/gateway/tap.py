"""The drift tap: served rows go to the drift monitor in batches, off the request path.

``offer`` only appends to a bounded queue (dropping and counting when it is full); a background
task sends ``TapBatch`` bodies to the monitor's ``INGEST_PATH``. A slow or dead monitor fills
the queue and costs dropped records, never request latency. A batch the monitor could not take
(no connection, a timeout, a 5xx: it is restarting) is kept and sent again with backoff, so a
monitor restart loses nothing the queue could hold; one it refused (4xx) is dropped and counted.

The queue is bounded twice: by records (``queue_size``) and by bytes (``queue_bytes``). Each
record is held as its serialized JSON, so what the queue holds is exactly what it counts: ten
thousand 1 MB requests cannot pile up gigabytes while the monitor is slow.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from runtime.gateway.metrics import GatewayMetrics
from runtime.gateway.payload import columns_of
from runtime.wiring import INGEST_PATH

__all__ = ["DriftTap"]

_RETRY_FIRST_S = 0.1
_RETRY_MAX_S = 2.0
"""Backoff between sends of a batch the monitor could not take."""


class DriftTap:
    def __init__(
        self,
        monitor_url: str,
        metrics: GatewayMetrics,
        queue_size: int = 10_000,
        queue_bytes: int = 64 * 1024 * 1024,
        batch_size: int = 256,
        flush_interval_s: float = 0.2,
        timeout_s: float = 2.0,
        token: str | None = None,
    ) -> None:
        self.url = monitor_url.rstrip("/") + INGEST_PATH
        self._headers = {"content-type": "application/json"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"  # the monitor's writer token
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self._max_bytes = queue_bytes
        self._batch_bytes = max(1, queue_bytes // 8)
        """Most bytes of records in one POST (one at least): its body is a copy of them."""
        self._queued_bytes = 0
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._sent = metrics.tap_records.labels("sent")
        self._full = metrics.tap_records.labels("dropped_full")
        self._failed = metrics.tap_records.labels("dropped_error")
        self._task: asyncio.Task[None] | None = None
        self._pending: list[bytes] = []
        """Records taken off the queue and not yet sent (the batch being gathered or sent)."""
        self._session: aiohttp.ClientSession | None = None

    def offer(
        self,
        model: str,
        variant: str,
        request_id: str,
        inputs: list[dict[str, Any]],
        outputs: list[dict[str, Any]],
        routing_key: str | None = None,
    ) -> None:
        """Queue one served request; never waits."""
        try:
            # orjson returns its growth buffer (up to twice the record's length, rounded up) as
            # the bytes object; a copy held for long is right-sized (home-assistant/core#181240).
            record = bytes(
                memoryview(orjson.dumps(_record(model, variant, request_id, time.time(), inputs, outputs, routing_key)))
            )
        except (TypeError, ValueError):  # a value JSON cannot hold must not fail the request
            self._failed.inc()
            return
        if self._queued_bytes + len(record) > self._max_bytes:
            self._full.inc()
            return
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self._full.inc()
            return
        self._queued_bytes += len(record)

    @property
    def queued_bytes(self) -> int:
        """Bytes of the records held, queued or in the batch being sent (at most ``queue_bytes``)."""
        return self._queued_bytes

    def start(self) -> None:
        if self._task is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self, flush_timeout_s: float = 1.0) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
            # Send what the cancelled task held and everything still queued; count what cannot go.
            batch, self._pending = self._pending, []
            try:
                async with asyncio.timeout(flush_timeout_s):
                    while batch or not self._queue.empty():
                        batch = batch or self._take_ready(self._batch_size, self._batch_bytes)
                        await self._send(batch)
                        batch = []
            except TimeoutError:
                self._failed.inc(len(batch) + self._queue.qsize())
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _take_ready(self, limit: int, room: int) -> list[bytes]:
        """Queued records, at most ``limit`` of them and until ``room`` bytes are taken."""
        batch: list[bytes] = []
        while len(batch) < limit and room > 0 and not self._queue.empty():
            record = self._queue.get_nowait()
            batch.append(record)
            room -= len(record)
        return batch

    async def _run(self) -> None:
        while True:
            batch = self._pending = [await self._queue.get()]
            room = self._batch_bytes - len(batch[0])
            flush_at = time.monotonic() + self._flush_interval_s
            while len(batch) < self._batch_size and room > 0:
                more = self._take_ready(self._batch_size - len(batch), room)
                batch += more
                room -= sum(map(len, more))
                remaining = flush_at - time.monotonic()
                if len(batch) >= self._batch_size or room <= 0 or remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        batch.append(await self._queue.get())
                except TimeoutError:
                    break
                room -= len(batch[-1])
            backoff_s = _RETRY_FIRST_S
            try:
                while not await self._send(batch, retry=True):
                    await asyncio.sleep(backoff_s)  # the batch stays held (and counted in the bound)
                    backoff_s = min(backoff_s * 2, _RETRY_MAX_S)
            except Exception:  # noqa: BLE001 - a malformed record must not stop the tap for good
                self._failed.inc(len(batch))
                self._queued_bytes -= sum(map(len, batch))
            self._pending = []

    async def _send(self, batch: list[bytes], retry: bool = False) -> bool:
        """Post one batch; ``False`` (with ``retry``) when the monitor could not take it and it is
        kept to be sent again, else ``True`` once it is sent or dropped (and counted)."""
        outcome = await self._post(b'{"records":[' + b",".join(batch) + b"]}")
        if outcome == "again" and retry:
            return False
        (self._sent if outcome == "sent" else self._failed).inc(len(batch))
        self._queued_bytes -= sum(map(len, batch))
        return True

    async def _post(self, body: bytes) -> str:
        """``sent``; ``again`` when the monitor could not take it (down, timeout, 5xx); ``refused`` (4xx)."""
        if self._session is None:
            raise RuntimeError("the drift tap posts only between start() and aclose()")
        try:
            async with self._session.post(self.url, data=body, headers=self._headers) as response:
                await response.read()
                if response.status < 400:
                    return "sent"
                return "again" if response.status >= 500 else "refused"
        except (aiohttp.ClientError, TimeoutError):
            return "again"


def _record(
    model: str,
    variant: str,
    request_id: str,
    timestamp: float,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    routing_key: str | None,
) -> dict[str, Any]:
    """One ``TapRecord`` as the monitor reads it (columnar inputs and outputs)."""
    return {
        "model": model,
        "variant": variant,
        "requestId": request_id,
        "timestamp": timestamp,
        "inputs": columns_of(inputs),
        "outputs": columns_of(outputs),
        **({"routingKey": routing_key} if routing_key is not None else {}),
    }
