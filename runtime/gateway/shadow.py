"""Shadow traffic: mirror requests to shadow variants without touching the client's answer.

Mirrors run as background tasks after the answer is known, bounded per model
(``shadow.maxConcurrency``; beyond it a mirror is dropped and counted), each within
``shadow.timeoutMs``. A shadow's answer is compared with the one served: labels must match
exactly, floats within a tolerance.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass
from typing import Any

import orjson

from runtime.gateway.errors import UpstreamError
from runtime.gateway.metrics import GatewayMetrics
from runtime.gateway.stats import ShadowStats
from runtime.gateway.upstream import Upstream
from runtime.spec import ModelSpec

__all__ = ["ShadowMirror", "ShadowTarget", "outputs_agree"]

REL_TOL = 1e-4
ABS_TOL = 1e-6


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if (
            isinstance(a, bool)
            or isinstance(b, bool)
            or not isinstance(a, (int, float))
            or not isinstance(b, (int, float))
        ):
            return False
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def outputs_agree(served: list[dict[str, Any]], shadow: list[dict[str, Any]], names: list[str] | None = None) -> bool:
    """Whether a shadow gave the served answer: same outputs by name (those in ``names`` only, when
    given), same shape, same values."""
    by_name = {o.get("name"): o for o in shadow}
    if names is not None:
        served = [o for o in served if o.get("name") in names]
    for output in served:
        other = by_name.get(output.get("name"))
        if other is None or other.get("shape") != output.get("shape"):
            return False
        if not _same(output.get("data"), other.get("data")):
            return False
    return bool(served)


@dataclass(slots=True)
class ShadowTarget:
    name: str
    upstream: Upstream
    path: str
    mirror_percent: float
    stats: ShadowStats


class ShadowMirror:
    def __init__(self, model: str, spec: ModelSpec, targets: list[ShadowTarget], metrics: GatewayMetrics) -> None:
        self.model = model
        self.targets = targets
        self._max = spec.shadow.max_concurrency
        self._timeout_s = spec.shadow.timeout_ms / 1000.0
        self._compare = spec.shadow.compare_outputs
        self._metrics = metrics
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._rng = random.Random()

    def mirror(self, body: bytes, headers: dict[str, str], served: list[dict[str, Any]] | None) -> None:
        """Start the mirrors of one request; returns at once. ``served`` is None for a fallback."""
        for target in self.targets:
            if self._rng.random() * 100.0 >= target.mirror_percent:
                continue
            if self._in_flight >= self._max:
                target.stats.dropped += 1
                self._metrics.shadow_requests.labels(self.model, target.name, "dropped").inc()
                continue
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._call(target, body, headers, served))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(
        self, target: ShadowTarget, body: bytes, headers: dict[str, str], served: list[dict[str, Any]] | None
    ) -> None:
        stats = target.stats
        stats.mirrored += 1
        t0 = time.monotonic()
        outcome = "error"
        try:
            async with asyncio.timeout(self._timeout_s):
                status, payload = await target.upstream.post(target.path, body, headers)
            elapsed = time.monotonic() - t0
            if status < 400:
                outputs = orjson.loads(payload).get("outputs")
                if isinstance(outputs, list):
                    outcome = "ok"
                    stats.latencies_ms.append(elapsed * 1000.0)
                    self._metrics.shadow_latency.labels(self.model, target.name).observe(elapsed)
                    if served is not None:
                        agreed = outputs_agree(served, outputs, self._compare)
                        stats.compared += 1
                        stats.agreed += agreed
                        self._metrics.shadow_agreement.labels(self.model, target.name, str(agreed).lower()).inc()
        except (TimeoutError, UpstreamError, orjson.JSONDecodeError, AttributeError):
            pass
        finally:
            self._in_flight -= 1
            if outcome == "error":
                stats.errors += 1
            self._metrics.shadow_requests.labels(self.model, target.name, outcome).inc()

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for mirrors in flight, then cancel the rest."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in pending:
                task.cancel()
