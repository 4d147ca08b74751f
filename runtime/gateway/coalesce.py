"""One variant's upstream calls: joined when they can be, each with a deadline, counted once.

Joining: a call finds the variant idle and goes at once (a lone request never waits). While
calls are in flight, later ones queue; when a call returns, everything queued that fits together
(same input names, datatypes and trailing shapes, at most ``max_rows`` rows) goes as one
request, and each caller gets back exactly its own rows. The model server batches anyway;
joining here saves an HTTP round trip per request on both sides, which is most of the gateway's
cost per request. Without ``join`` every call goes at once, alone. A send hands its slot on
the moment its answer is in, before that answer is shared out: the next joined call goes to
the model server first, and the callers answered write their responses while it works (the
other order left the model server idle through a dozen callers' responses per call, a third
of the gateway's throughput at concurrency 32 in bench/gateway.py).

Deadlines: an upstream call ends by the latest deadline among the callers it serves (a moment
before, so that they see its timeout rather than their own), and is cancelled as soon as no
caller waits for it; a caller who leaves the queue takes its request with it. A stalled model
server holds the variant's slots for one latency budget at most, so once it recovers the next
calls, the breaker's half-open probe among them, reach it. Each call tells the model server
how long it is still awaited (``x-ml-serving-timeout-ms``), so that one still in its batch queue
when the gateway has given up is dropped there, not predicted for no one.

Isolation: a joined call the model server refuses (4xx) or fails (5xx), or whose answer cannot
be shared out by rows, is re-sent as two halves, and so on down to single callers, so one
caller's poison row fails that caller only, for about 2 log2(n) extra calls.

Breaker: each upstream call's outcome is recorded once, with the permit of its probe if it
carries one, else of its first caller; a refused input (4xx), a caller who went away, or a
caller's own poison row (a 5xx alone while its neighbours were answered) records nothing
(``Breaker.release``).
"""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.gateway.answers import checked, rows_in, split
from runtime.gateway.breaker import Breaker, Permit
from runtime.gateway.errors import CallFailure, UpstreamError, UpstreamRejected
from runtime.gateway.payload import Inbound, flat_data, joined_body
from runtime.gateway.upstream import Upstream
from runtime.protocol.binary import HEADER_LENGTH
from runtime.protocol.deadline import TIMEOUT_HEADER

__all__ = ["Coalescer", "Reply", "MARGIN_S"]

MARGIN_S = 0.001
"""How long before its callers' deadline a queued upstream call gives up."""

Reply = tuple[dict[str, Any], int]
"""A caller's V2 response and the size in bytes of its share of the answer."""


def _signature(inputs: list[dict[str, Any]]) -> tuple | None:
    """What must match for requests to join, or ``None`` when this one must go alone."""
    if not rows_in(inputs):
        return None
    return tuple((t.get("name"), t.get("datatype"), tuple(t["shape"][1:])) for t in inputs)


@dataclass(eq=False, slots=True)
class _Call:
    path: str
    body: bytes
    headers: dict[str, str]
    inputs: list[dict[str, Any]]
    rows: int | None
    permit: Permit
    deadline: float
    budgeted: bool = True
    """Whether ``deadline`` is the model's latency budget; False when the caller's own, shorter
    deadline set it (a gRPC deadline): then running out of time says nothing of the variant."""
    signature: tuple | None = None
    future: asyncio.Future[Reply] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future(), repr=False
    )
    """What the caller awaits once queued (a call sent at once never waits on it)."""
    task: asyncio.Task | None = field(default=None, repr=False)
    """The send serving this call, once it left the queue."""
    group: list[_Call] = field(default_factory=list, repr=False)
    counted: bool = False
    """Whether the breaker has had its verdict on ``permit``."""
    sent_at: float | None = None
    """When the upstream call that carries ``permit``'s verdict was sent (monotonic)."""


@dataclass(slots=True)
class _Slot:
    """One of the variant's ``max_in_flight`` places for an upstream call, held by one send."""

    held: bool = True


@dataclass(slots=True)
class _Isolation:
    """The callers of one failed joined call being sorted out by halves."""

    answered: bool = False
    """Whether the model server answered any part: then it is healthy, and a caller it failed
    alone failed on its own rows."""
    poisoned: list[_Call] = field(default_factory=list)
    """Callers whose rows it answered alone with a 5xx; their verdict waits for ``answered``."""


class Coalescer:
    def __init__(
        self, upstream: Upstream, breaker: Breaker, max_rows: int = 64, max_in_flight: int = 2, join: bool = True
    ) -> None:
        self.upstream = upstream
        self.breaker = breaker
        self.max_rows = max_rows
        self.max_in_flight = max_in_flight if join else sys.maxsize
        self._queue: list[_Call] = []
        self._in_flight = 0

    @property
    def queued(self) -> int:
        """Calls waiting for a slot (each holds its request body)."""
        return len(self._queue)

    async def post(
        self,
        path: str,
        inbound: Inbound,
        headers: dict[str, str],
        permit: Permit,
        deadline: float,
        budgeted: bool = True,
    ) -> Reply:
        """This caller's answer from ``path`` by ``deadline`` (monotonic): alone when the variant is
        idle or the request carries more than inputs, else possibly joined with others. Raises
        ``TimeoutError``, ``UpstreamError`` or ``UpstreamRejected``; ``permit`` is the
        coalescer's from here on. ``budgeted``: the deadline is the model's latency budget (a
        timeout counts against the variant), not the caller's own shorter one (it does not)."""
        call = _Call(path, inbound.body, headers, inbound.inputs, rows_in(inbound.inputs), permit, deadline, budgeted)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self._count(call, None)
            raise TimeoutError
        if self._in_flight < self.max_in_flight and not self._queue:
            self._in_flight += 1
            try:
                return await self._once(call, deadline)
            finally:
                self._in_flight -= 1
                self._kick()
        call.signature = (path, _signature(inbound.inputs)) if inbound.joinable and call.rows else None
        call.future.add_done_callback(lambda _: self._left(call))
        self._queue.append(call)
        self._kick()
        async with asyncio.timeout(remaining):
            return await call.future

    def _count(self, call: _Call, ok: bool | None) -> None:
        """The breaker's one verdict on a call's permit: recorded (``ok``) or released (None)."""
        if not call.counted:
            call.counted = True
            if ok is None:
                self.breaker.release(call.permit)
            else:
                self.breaker.record(call.permit, ok, call.sent_at)

    async def _once(self, call: _Call, deadline: float, isolation: _Isolation | None = None) -> Reply:
        """One upstream call for one caller, checked and counted."""
        try:
            headers = {**call.headers, TIMEOUT_HEADER: _left_ms(deadline)}
            call.sent_at = time.monotonic()
            async with asyncio.timeout(deadline - time.monotonic()):
                status, payload = await self.upstream.post(call.path, call.body, headers)
            response = checked(status, payload, call.rows)
        except UpstreamRejected:
            self._count(call, None)
            raise
        except UpstreamError as exc:
            if isolation is not None and exc.reason == CallFailure.HTTP_5XX:
                isolation.poisoned.append(call)
            else:
                self._count(call, False)
            raise
        except TimeoutError:
            self._count(call, False if call.budgeted else None)
            raise
        except BaseException:
            self._count(call, None)
            raise
        self._count(call, True)
        if isolation is not None:
            isolation.answered = True
        return response, len(payload)

    def _left(self, call: _Call) -> None:
        """A caller stopped waiting (its deadline, or the client went away)."""
        if not call.future.cancelled():
            return
        if call.task is None:
            if call in self._queue:
                self._queue.remove(call)
                self._count(call, None)
        elif not call.task.done() and all(c.future.done() for c in call.group):
            call.task.cancel()

    def _kick(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue and self._in_flight < self.max_in_flight:
            group = self._take()
            self._in_flight += 1
            slot = _Slot()
            task = loop.create_task(self._send(group, slot))
            for call in group:
                call.task, call.group = task, group
            task.add_done_callback(functools.partial(self._sent, group, slot))

    def _free(self, slot: _Slot | None) -> None:
        """Give a send's slot back and start what is queued: as soon as its answer is in, before
        the answer is shared out, so that the next call is on its way to the model server
        while the callers answered write their responses (each is a task of its own, run after
        the next send's first step)."""
        if slot is not None and slot.held:
            slot.held = False
            self._in_flight -= 1
            self._kick()

    def _sent(self, group: list[_Call], slot: _Slot, task: asyncio.Task[None]) -> None:
        self._free(slot)
        fault = None if task.cancelled() else task.exception()
        for call in group:
            self._count(call, None)  # permits a cancelled send never reached
            if fault is not None:
                _fail(call, fault)
            call.task = None
        # Break the cycles a finished send leaves, so that reference counting frees each call,
        # its future and its share of the answer at once: every caller's ``group`` is this list,
        # which holds the caller, and a cancelled task keeps its CancelledError, whose traceback
        # holds the send's frames and so the callers. Left to the collector, they were some 25
        # objects a request, and at concurrency 32 a collection ran every 25 requests
        # (bench/gateway_probe.py). With the send done, ``_left`` needs neither.
        group.clear()
        self._kick()

    def _take(self) -> list[_Call]:
        first = self._queue.pop(0)
        if first.signature is None:
            return [first]
        # A call with a signature has rows (``post``), so ``or 0`` changes no count.
        group, rows, rest = [first], first.rows or 0, []
        for call in self._queue:
            if call.signature == first.signature and rows + (call.rows or 0) <= self.max_rows:
                group.append(call)
                rows += call.rows or 0
            else:
                rest.append(call)
        self._queue = rest
        return group

    async def _send(self, group: list[_Call], slot: _Slot) -> None:
        live = [c for c in group if not c.future.done()]  # callers out of budget have left
        if len(live) == 1:
            await self._alone(live[0], slot=slot)
        elif live:
            await self._joined(live, slot=slot)

    async def _alone(self, call: _Call, isolation: _Isolation | None = None, slot: _Slot | None = None) -> None:
        try:
            result = await self._once(call, call.deadline - MARGIN_S, isolation)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, who classifies it
            _fail(call, exc)
        else:
            self._free(slot)
            _answer(call, result)

    async def _joined(self, group: list[_Call], isolation: _Isolation | None = None, slot: _Slot | None = None) -> None:
        lead = next((c for c in group if c.permit.probe), group[0])
        rows = [c.rows or 0 for c in group]  # joined calls all have rows (``_take``)
        deadline = max(c.deadline for c in group) - MARGIN_S
        inputs = [
            {
                **tensor,
                "shape": [sum(rows), *tensor["shape"][1:]],
                "data": _joined_data([c.inputs[i]["data"] for c in group]),
            }
            for i, tensor in enumerate(lead.inputs)
        ]
        body, content_headers = joined_body(inputs)
        headers = {k: v for k, v in lead.headers.items() if k != HEADER_LENGTH}
        headers.update(content_headers or {"content-type": "application/json"})
        headers[TIMEOUT_HEADER] = _left_ms(deadline)
        lead.sent_at = time.monotonic()
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                status, payload = await self.upstream.post(lead.path, body, headers)
        except (UpstreamError, TimeoutError) as exc:
            # The call ran to its latest caller's deadline: a timeout counts only if that was the budget.
            timed_out = isinstance(exc, TimeoutError)
            self._count(lead, None if timed_out and not max(group, key=lambda c: c.deadline).budgeted else False)
            for call in group:
                _fail(call, exc)
            return
        if 200 <= status < 300:
            try:
                parts = split(checked(status, payload, sum(rows)), rows)
            except UpstreamError:
                parts = None
            if parts is not None:
                self._count(lead, True)
                if isolation is not None:
                    isolation.answered = True
                total = sum(rows)
                self._free(slot)
                for call, part, n in zip(group, parts, rows):
                    self._count(call, None)
                    _answer(call, (part, len(payload) * n // total))
                return
        # Refused, failed or unusable as a whole: one caller's rows may be the cause. Halve the
        # group and try each half (down to single callers): a poison row costs its own request
        # and about 2 log2(n) calls, not one call per caller, which on a loaded model server
        # would turn one bad row into a storm. Only the halves' calls count, and a caller failed
        # alone (5xx) while the model server answered others counts nothing: its rows, not the
        # variant, are what failed.
        top = isolation is None
        isolation = isolation or _Isolation()
        live = [c for c in group if not c.future.done()]
        if len(live) > 1:
            middle = len(live) // 2
            await asyncio.gather(self._isolate(live[:middle], isolation), self._isolate(live[middle:], isolation))
        elif live:
            await self._alone(live[0], isolation)
        if top and isolation.poisoned:
            if not isolation.answered:  # nothing answered: the variant failed, once
                failed = isolation.poisoned
                self._count(next((c for c in failed if c.permit.probe), failed[0]), False)
            for call in isolation.poisoned:
                self._count(call, None)

    async def _isolate(self, group: list[_Call], isolation: _Isolation) -> None:
        await (self._alone(group[0], isolation) if len(group) == 1 else self._joined(group, isolation))


def _left_ms(deadline: float) -> str:
    """What the gateway still waits for a call, for the model server's batch queue to drop it
    past then (runtime/protocol/deadline.py)."""
    return f"{max(0.0, deadline - time.monotonic()) * 1000:.1f}"


def _joined_data(parts: list[Any]) -> Any:
    """Callers' data as one flat list, or one array when any caller sent binary tensors."""
    if any(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate([p.ravel() if isinstance(p, np.ndarray) else np.asarray(flat_data(p)) for p in parts])
    return [v for p in parts for v in flat_data(p)]


def _answer(call: _Call, result: Reply) -> None:
    if not call.future.done():
        call.future.set_result(result)


def _fail(call: _Call, exc: BaseException) -> None:
    if not call.future.done():
        call.future.set_exception(exc)
