"""What a model server answered, checked before any caller sees it, and shared out by rows.

An answer is usable when it is a V2 inference response whose every output has one row per
input row: a garbage body, a 3xx, or a wrong number of rows is ``bad_response`` (the next
variant or the fallback answers instead), never passed to the client as if it were a prediction.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from runtime.gateway.errors import CallFailure, UpstreamError, UpstreamRejected
from runtime.gateway.payload import flat_data

__all__ = ["checked", "split", "rows_in"]


def rows_in(inputs: list[dict[str, Any]]) -> int | None:
    """Rows of a request whose inputs agree on their first dimension; None when they do not."""
    rows = None
    for tensor in inputs:
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not shape or not isinstance(shape[0], int):
            return None
        if rows is None:
            rows = shape[0]
        elif shape[0] != rows:
            return None
    return rows


def checked(status: int, payload: bytes, rows: int | None) -> dict[str, Any]:
    """The parsed response of a usable answer; raises ``UpstreamError`` or ``UpstreamRejected``."""
    if status >= 500:
        raise UpstreamError(CallFailure.HTTP_5XX, str(status))
    if status >= 400:
        raise UpstreamRejected(status, payload)
    if status >= 300:
        raise UpstreamError(CallFailure.BAD_RESPONSE, f"HTTP {status}")
    try:
        response = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamError(CallFailure.BAD_RESPONSE, "not JSON") from None
    outputs = response.get("outputs") if isinstance(response, dict) else None
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise UpstreamError(CallFailure.BAD_RESPONSE, "not a V2 inference response")
    if rows is not None:
        for output in outputs:
            shape = output.get("shape")
            if not isinstance(shape, list) or not shape or shape[0] != rows:
                raise UpstreamError(
                    CallFailure.BAD_RESPONSE, f"output '{output.get('name')}' has shape {shape} for {rows} input rows"
                )
    return response


def split(response: dict[str, Any], rows: list[int]) -> list[dict[str, Any]]:
    """Each caller's share of a joined answer (already ``checked`` for ``sum(rows)`` rows)."""
    total = sum(rows)
    outputs = response["outputs"]
    flat = []
    for output in outputs:
        data = flat_data(output.get("data") if isinstance(output.get("data"), list) else [])
        shape = output["shape"]
        if not all(isinstance(d, int) and d >= 0 for d in shape) or len(data) != math.prod(shape):
            raise UpstreamError(
                CallFailure.BAD_RESPONSE,
                f"output '{output.get('name')}' data does not fill its shape {output['shape']}",
            )
        flat.append(data)
    rest = {k: v for k, v in response.items() if k not in {"outputs", "id"}}
    parts, start = [], 0
    for n in rows:
        shares = []
        for output, data in zip(outputs, flat):
            per_row = len(data) // total
            shares.append(
                {**output, "shape": [n, *output["shape"][1:]], "data": data[start * per_row : (start + n) * per_row]}
            )
        parts.append({**rest, "outputs": shares})
        start += n
    return parts
