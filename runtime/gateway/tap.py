"""The drift tap: served rows go to the drift monitor in batches, off the request path.

``offer`` only appends to a bounded queue (dropping and counting when it is full); a background
task sends ``TapBatch`` bodies to the monitor's ``INGEST_PATH``. A slow or dead monitor fills
the queue and costs dropped records, never request latency.
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


class DriftTap:
    def __init__(
        self,
        monitor_url: str,
        metrics: GatewayMetrics,
        queue_size: int = 10_000,
        batch_size: int = 256,
        flush_interval_s: float = 0.2,
        timeout_s: float = 2.0,
    ) -> None:
        self.url = monitor_url.rstrip("/") + INGEST_PATH
        self._queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._sent = metrics.tap_records.labels("sent")
        self._full = metrics.tap_records.labels("dropped_full")
        self._failed = metrics.tap_records.labels("dropped_error")
        self._task: asyncio.Task[None] | None = None
        self._pending: list[tuple[Any, ...]] = []
        """Records taken off the queue and not yet sent (the batch being gathered or sent)."""
        self._session: aiohttp.ClientSession | None = None

    def offer(
        self, model: str, variant: str, request_id: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
        routing_key: str | None = None,
    ) -> None:
        """Queue one served request; never waits."""
        try:
            self._queue.put_nowait((model, variant, request_id, time.time(), inputs, outputs, routing_key))
        except asyncio.QueueFull:
            self._full.inc()

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
                        batch = batch or self._take_ready(self._batch_size)
                        await self._send(batch)
                        batch = []
            except TimeoutError:
                self._failed.inc(len(batch) + self._queue.qsize())
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _take_ready(self, limit: int) -> list[tuple[Any, ...]]:
        batch = []
        while len(batch) < limit and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            batch = self._pending = [await self._queue.get()]
            flush_at = time.monotonic() + self._flush_interval_s
            while len(batch) < self._batch_size:
                batch += self._take_ready(self._batch_size - len(batch))
                remaining = flush_at - time.monotonic()
                if len(batch) >= self._batch_size or remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        batch.append(await self._queue.get())
                except TimeoutError:
                    break
            try:
                await self._send(batch)
            except Exception:  # noqa: BLE001 - a malformed record must not stop the tap for good
                self._failed.inc(len(batch))
            self._pending = []

    async def _send(self, batch: list[tuple[Any, ...]]) -> None:
        records = [
            {
                "model": model,
                "variant": variant,
                "requestId": request_id,
                "timestamp": timestamp,
                "inputs": columns_of(inputs),
                "outputs": columns_of(outputs),
                **({"routingKey": key} if key is not None else {}),
            }
            for model, variant, request_id, timestamp, inputs, outputs, key in batch
        ]
        body = orjson.dumps({"records": records})
        try:
            async with self._session.post(self.url, data=body, headers={"content-type": "application/json"}) as response:
                await response.read()
                ok = response.status < 400
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        (self._sent if ok else self._failed).inc(len(batch))
