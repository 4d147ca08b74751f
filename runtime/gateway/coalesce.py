"""Coalescing: concurrent calls to one variant go upstream as one V2 request.

A call finds the variant idle and goes at once (a lone request never waits). While calls are in
flight, later ones queue; when a call returns, everything queued that fits together (same input
names, datatypes and trailing shapes, at most ``max_rows`` rows) goes as one request, and each
caller gets back exactly its own rows. The model server batches anyway; joining here saves an
HTTP round trip per request on both sides, which is most of the gateway's cost per request.

A joined request the model server refuses (4xx) is re-sent per caller, so one caller's bad input
never fails another's; any other failure is every joined caller's failure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from runtime.gateway.payload import flat_data, joined_body
from runtime.gateway.upstream import Upstream
from runtime.protocol.binary import HEADER_LENGTH

__all__ = ["Coalescer"]


def _signature(inputs: list[dict[str, Any]]) -> tuple | None:
    """What must match for requests to join, or ``None`` when this one must go alone."""
    rows = None
    parts = []
    for tensor in inputs:
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not shape or not isinstance(shape[0], int):
            return None
        if rows is None:
            rows = shape[0]
        elif shape[0] != rows:
            return None
        parts.append((tensor.get("name"), tensor.get("datatype"), tuple(shape[1:])))
    return tuple(parts) if rows else None


@dataclass
class _Call:
    path: str
    body: bytes
    headers: dict[str, str]
    inputs: list[dict[str, Any]]
    signature: tuple | None
    rows: int
    future: asyncio.Future = field(repr=False)


class Coalescer:
    def __init__(self, upstream: Upstream, max_rows: int = 64, max_in_flight: int = 2) -> None:
        self.upstream = upstream
        self.max_rows = max_rows
        self.max_in_flight = max_in_flight
        self._queue: list[_Call] = []
        self._in_flight = 0

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], inputs: list[dict[str, Any]], joinable: bool
    ) -> tuple[int, bytes]:
        """This caller's answer from ``path``: alone when the variant is idle or the request carries
        more than inputs (``joinable`` false), else possibly joined with others."""
        signature = _signature(inputs) if joinable else None
        if signature is not None:
            signature = (path, signature)
        if self._in_flight < self.max_in_flight and not self._queue:
            self._in_flight += 1
            try:
                return await self.upstream.post(path, body, headers)
            finally:
                self._in_flight -= 1
                self._kick()
        rows = inputs[0]["shape"][0] if signature else 0
        call = _Call(path, body, headers, inputs, signature, rows, asyncio.get_running_loop().create_future())
        self._queue.append(call)
        self._kick()
        return await call.future

    def _kick(self) -> None:
        while self._queue and self._in_flight < self.max_in_flight:
            group = self._take()
            self._in_flight += 1
            asyncio.get_running_loop().create_task(self._send(group))

    def _take(self) -> list[_Call]:
        first = self._queue.pop(0)
        if first.signature is None:
            return [first]
        group, rows, rest = [first], first.rows, []
        for call in self._queue:
            if call.signature == first.signature and rows + call.rows <= self.max_rows:
                group.append(call)
                rows += call.rows
            else:
                rest.append(call)
        self._queue = rest
        return group

    async def _send(self, group: list[_Call]) -> None:
        try:
            live = [c for c in group if not c.future.done()]  # callers out of budget have left
            if len(live) == 1:
                await self._alone(live[0])
            elif live:
                await self._joined(live)
        finally:
            self._in_flight -= 1
            self._kick()

    async def _alone(self, call: _Call) -> None:
        try:
            result = await self.upstream.post(call.path, call.body, call.headers)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, who classifies it
            _settle(call, exc=exc)
        else:
            _settle(call, result)

    async def _joined(self, group: list[_Call]) -> None:
        total = sum(c.rows for c in group)
        inputs = [
            {**tensor, "shape": [total, *tensor["shape"][1:]], "data": _joined_data([c.inputs[i]["data"] for c in group])}
            for i, tensor in enumerate(group[0].inputs)
        ]
        body, content_headers = joined_body(inputs)
        headers = {k: v for k, v in group[0].headers.items() if k != HEADER_LENGTH}
        headers.update(content_headers or {"content-type": "application/json"})
        try:
            status, payload = await self.upstream.post(group[0].path, body, headers)
        except Exception as exc:  # noqa: BLE001 - every joined caller's failure
            for call in group:
                _settle(call, exc=exc)
            return
        if 400 <= status < 500:
            await asyncio.gather(*(self._alone(call) for call in group))
            return
        if status >= 500:
            for call in group:
                _settle(call, (status, payload))
            return
        for call, part in zip(group, _split(payload, [c.rows for c in group], total)):
            _settle(call, (status, part) if part is not None else (502, b"joined answer could not be split"))


def _joined_data(parts: list[Any]) -> Any:
    """Callers' data as one flat list, or one array when any caller sent binary tensors."""
    if any(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate([p.ravel() if isinstance(p, np.ndarray) else np.asarray(flat_data(p)) for p in parts])
    return [v for p in parts for v in flat_data(p)]


def _split(payload: bytes, rows: list[int], total: int) -> list[bytes | None]:
    """Each caller's share of a joined answer, as its own V2 response body."""
    try:
        response = orjson.loads(payload)
        outputs = response["outputs"]
        for output in outputs:
            if output["shape"][0] != total:
                return [None] * len(rows)
        flat = [flat_data(o["data"]) for o in outputs]
    except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
        return [None] * len(rows)
    parts, start = [], 0
    for n in rows:
        shares = []
        for output, data in zip(outputs, flat):
            per_row = len(data) // total if total else 0
            shares.append({**output, "shape": [n, *output["shape"][1:]], "data": data[start * per_row : (start + n) * per_row]})
        parts.append(orjson.dumps({**{k: v for k, v in response.items() if k not in {"outputs", "id"}}, "outputs": shares}))
        start += n
    return parts


def _settle(call: _Call, result: tuple[int, bytes] | None = None, exc: BaseException | None = None) -> None:
    if call.future.done():
        return
    if exc is not None:
        call.future.set_exception(exc)
    else:
        call.future.set_result(result)
