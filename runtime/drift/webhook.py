"""Webhook on the transition into drift: kept in an outbox on disk until delivered.

``notify`` never waits on the network: it writes the event into the outbox folder (one small
file, fsynced, before the monitor persists the verdict that caused it) and wakes one worker
task, which posts each event in order, retrying failures with exponential backoff. An event
leaves the outbox only once the receiver answered 2xx; after a round of failed retries it waits
``pause_s`` and is tried again. ``stop`` goes on delivering for at most ``drain_s``; what is left
stays on disk and is sent after the next start. Delivery is at least once: each event carries an
``id`` a receiver can deduplicate by.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import httpx

from runtime.drift.state import atomic_write

__all__ = ["WebhookNotifier"]

log = logging.getLogger(__name__)


class WebhookNotifier:
    def __init__(
        self,
        url: str,
        outbox: Path,
        retries: int = 5,
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        capacity: int = 1_000,
        pause_s: float = 30.0,
        drain_s: float = 5.0,
    ) -> None:
        self.url, self.outbox, self.retries, self.timeout_s, self.backoff_s = url, outbox, retries, timeout_s, backoff_s
        self.capacity, self.pause_s, self.drain_s = capacity, pause_s, drain_s
        self._pending: deque[Path] = deque(sorted(outbox.glob("*.json")) if outbox.is_dir() else ())
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sequence = 0
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Events in the outbox, not yet delivered."""
        return len(self._pending)

    def notify(self, event: dict[str, Any]) -> bool:
        if len(self._pending) >= self.capacity:
            self.dropped += 1
            log.warning("drift webhook outbox full (%d events); event dropped: %s", self.capacity, event.get("summary"))
            return False
        self._sequence += 1
        path = self.outbox / f"{time.time_ns():020d}-{self._sequence:06d}.json"
        atomic_write(path, json.dumps({"id": uuid.uuid4().hex, **event}).encode())
        self._pending.append(path)
        self._wake.set()
        return True

    async def start(self) -> None:
        self._closing.clear()
        self._task = asyncio.create_task(self._run(), name="drift-webhook")

    async def stop(self) -> None:
        """Deliver what is pending for at most ``drain_s``, then leave the rest in the outbox."""
        if self._task is None:
            return
        self._closing.set()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.drain_s)
        except TimeoutError:
            log.warning(
                "drift webhook: %d event(s) not delivered within %g s; they are sent after the restart",
                len(self._pending),
                self.drain_s,
            )
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._task = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_s, trust_env=False) as client:
            while True:
                if not self._pending:
                    if self._closing.is_set():
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                path = self._pending[0]
                try:
                    event = json.loads(path.read_bytes())
                except (OSError, ValueError) as exc:  # written by something else: keep it, skip it
                    log.warning("drift webhook: cannot read outbox entry %s (%s); skipped", path, exc)
                    self._pending.popleft()
                    continue
                if await self._deliver(client, event):
                    path.unlink(missing_ok=True)
                    self._pending.popleft()
                    self.delivered += 1
                    continue
                self.failed += 1
                if self._closing.is_set():
                    return
                try:
                    await asyncio.wait_for(self._closing.wait(), self.pause_s)
                except TimeoutError:
                    pass

    async def _deliver(self, client: httpx.AsyncClient, event: dict[str, Any]) -> bool:
        for attempt in range(self.retries + 1):
            try:
                response = await client.post(self.url, json=event)
                if response.is_success:
                    return True
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            log.warning("drift webhook attempt %d/%d failed (%s)", attempt + 1, self.retries + 1, reason)
            if attempt < self.retries:
                await asyncio.sleep(self.backoff_s * 2**attempt)
        return False
