"""Webhook on the transition into drift: queued, delivered in the background, retried.

``notify`` never waits: it puts the event on a bounded queue (dropping it, and counting the
drop, when the queue is full). One worker task posts each event, retrying failures with
exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

__all__ = ["WebhookNotifier"]

log = logging.getLogger(__name__)


class WebhookNotifier:
    def __init__(
        self, url: str, retries: int = 5, timeout_s: float = 5.0, backoff_s: float = 0.5, queue_size: int = 100
    ) -> None:
        self.url, self.retries, self.timeout_s, self.backoff_s = url, retries, timeout_s, backoff_s
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def notify(self, event: dict[str, Any]) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("drift webhook queue full; event dropped: %s", event.get("summary"))
            return False
        return True

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="drift-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            while True:
                event = await self._queue.get()
                await self._deliver(client, event)

    async def _deliver(self, client: httpx.AsyncClient, event: dict[str, Any]) -> None:
        for attempt in range(self.retries + 1):
            try:
                response = await client.post(self.url, json=event)
                if response.is_success:
                    self.delivered += 1
                    return
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            log.warning("drift webhook attempt %d/%d failed (%s)", attempt + 1, self.retries + 1, reason)
            if attempt < self.retries:
                await asyncio.sleep(self.backoff_s * 2**attempt)
        self.failed += 1
