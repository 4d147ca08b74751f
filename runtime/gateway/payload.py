"""Request and response bodies as the gateway sees them: V2 checked by the codec, V1 converted.

The gateway forwards the client's bytes unchanged (JSON, or the binary tensor extension); it
parses them to reject bad input with a 400 that names the field, to find a routing key, and to
feed the fallback rules and the tap. Model servers are always asked for JSON outputs: a
client's binary-output flags are taken off what is forwarded and honoured by the gateway's own
encoding of the answer (runtime/gateway/app.py), fallback answers included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from runtime.errors import InvalidInput
from runtime.protocol import decode_inputs, flatten
from runtime.protocol.binary import HEADER_LENGTH, OCTET_STREAM, OutputChoice, array_to_raw, strip_output_choice
from runtime.protocol.deadline import parameter_timeout_s
from runtime.protocol.rest import read_request

__all__ = [
    "Inbound",
    "parse_v2",
    "parse_v1",
    "rows_of",
    "columns_of",
    "flat_data",
    "first_value",
    "joined_body",
    "v1_predictions",
]


@dataclass(frozen=True, slots=True)
class Inbound:
    body: bytes
    """What is forwarded to the model server."""
    inputs: list[dict[str, Any]]
    """The request's input tensors (name, shape, datatype, data) as sent."""
    output_names: list[str]
    """Outputs the client asked for, if any."""
    joinable: bool = False
    """Only input tensors, no ``id``, ``parameters`` or requested outputs: nothing is lost when it
    shares an upstream request with others (runtime/gateway/coalesce.py)."""
    content_headers: dict[str, str] | None = None
    """Headers that describe ``body`` to the model server (binary tensors); None for JSON."""
    outputs: OutputChoice = OutputChoice()
    """Which outputs the client wants back as binary data."""
    timeout_s: float | None = None
    """The caller's own timeout (``parameters.timeout``, as Triton's clients send it), if any."""


_INT64 = (-(2**63), 2**63 - 1)

_PER_CALLER = ("binary_data_output", "timeout")
"""Request parameters the gateway honours for each caller itself, so they keep no request apart:
the binary-output flag (it encodes the answer) and the timeout (a caller's own deadline)."""


def _plainly_valid(datatype: str, shape: list[int], data: list[Any]) -> bool:
    """Flat FP64/FP32/INT64 data that fills its shape: valid without building an array (the
    common case); anything else goes through the codec."""
    if len(data) != math.prod(shape) or any(d < 0 for d in shape):
        return False
    if datatype == "FP64" or datatype == "FP32":
        return all(type(v) is float or type(v) is int for v in data)
    if datatype == "INT64":
        low, high = _INT64
        return all(type(v) is int and low <= v <= high for v in data)
    return False


def parse_v2(body: bytes, header_length: str | None = None) -> Inbound:
    """A V2 request, JSON or binary (``header_length`` is its Inference-Header-Content-Length)."""
    parsed = read_request(body, header_length)
    request = parsed.request
    binary = [isinstance(i.data, np.ndarray) for i in request.inputs]
    plain = all(b or _plainly_valid(i.datatype, i.shape, i.data) for b, i in zip(binary, request.inputs))
    if not plain or len({i.name for i in request.inputs}) != len(request.inputs):
        decode_inputs(request)  # the codec's checks, with its messages that name the input
    inputs = [{"name": i.name, "shape": i.shape, "datatype": i.datatype, "data": i.data} for i in request.inputs]
    names = [o.name for o in request.outputs or ()]
    given = request.parameters or {}
    timeout_s = parameter_timeout_s(given)
    parameters = {k: v for k, v in given.items() if k not in _PER_CALLER}
    joinable = request.id is None and not parameters and not names and not any(i.parameters for i in request.inputs)
    content_headers = None
    if parsed.outputs.any:
        # The model server answers JSON; the gateway encodes binary outputs itself.
        head_length = int(header_length) if header_length is not None else len(body)
        document = parsed.document if parsed.document is not None else orjson.loads(body)
        strip_output_choice(document)
        head = orjson.dumps(document)
        body = head + body[head_length:]
        header_length = str(len(head)) if header_length is not None else None
    if header_length is not None:
        content_headers = {HEADER_LENGTH: header_length, "content-type": OCTET_STREAM}
    return Inbound(body, inputs, names, joinable, content_headers, parsed.outputs, timeout_s)


def joined_body(inputs: list[dict[str, Any]]) -> tuple[bytes, dict[str, str] | None]:
    """One upstream body for joined callers' tensors (data as lists or arrays), and its headers."""
    if not any(isinstance(t["data"], np.ndarray) for t in inputs):
        return orjson.dumps({"inputs": inputs}), None
    header, raws = [], []
    for tensor in inputs:
        raw = array_to_raw(tensor["datatype"], tensor["data"])
        raws.append(raw)
        header.append({k: v for k, v in tensor.items() if k != "data"} | {"parameters": {"binary_data_size": len(raw)}})
    head = orjson.dumps({"inputs": header})
    return b"".join([head, *raws]), {HEADER_LENGTH: str(len(head)), "content-type": OCTET_STREAM}


def _datatype(values: list[Any], where: str) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "FP64"
    if all(isinstance(v, str) for v in values):
        return "BYTES"
    raise InvalidInput(f"{where}: values must all be numbers, all booleans or all strings")


def parse_v1(body: bytes) -> Inbound:
    """``{"instances": [...]}`` as a V2 request: rows of objects become one input per key."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or not instances:
        raise InvalidInput('instances: expected a non-empty list of rows, e.g. {"instances": [{"x": 1.0}]}')
    if all(isinstance(row, dict) for row in instances):
        keys = list(instances[0])
        inputs = []
        for i, row in enumerate(instances):
            if list(row) != keys:
                raise InvalidInput(f"instances[{i}]: keys {sorted(row)} differ from instances[0] keys {sorted(keys)}")
        for key in keys:
            column = [row[key] for row in instances]
            inputs.append(
                {
                    "name": key,
                    "shape": [len(column)],
                    "datatype": _datatype(column, f"instances[*].{key}"),
                    "data": column,
                }
            )
    elif all(isinstance(row, list) for row in instances):
        width = len(instances[0])
        for i, row in enumerate(instances):
            if len(row) != width:
                raise InvalidInput(f"instances[{i}]: has {len(row)} values; expected {width} like instances[0]")
        flat = [v for row in instances for v in row]
        inputs = [
            {
                "name": "instances",
                "shape": [len(instances), width],
                "datatype": _datatype(flat, "instances"),
                "data": flat,
            }
        ]
    elif not any(isinstance(row, (list, dict)) for row in instances):
        inputs = [
            {
                "name": "instances",
                "shape": [len(instances)],
                "datatype": _datatype(instances, "instances"),
                "data": instances,
            }
        ]
    else:
        raise InvalidInput("instances: rows must be all objects, all lists or all scalars")
    return parse_v2(orjson.dumps({"inputs": inputs}))


def flat_data(data: list[Any] | np.ndarray) -> list[Any]:
    """Row-major values of flat or nested tensor data, or of a binary tensor's array."""
    if isinstance(data, np.ndarray):
        values = data.ravel().tolist()
        if data.dtype.kind == "O":
            return [v.decode(errors="replace") if isinstance(v, bytes) else v for v in values]
        return values
    if not any(isinstance(v, list) for v in data):
        return data
    return flatten(data)[0]


def first_value(data: Any) -> Any:
    """The first value of tensor data (nested lists or an array); None when there is none."""
    if isinstance(data, np.ndarray):
        if not data.size:
            return None
        value = data.flat[0]
        return (
            value.decode(errors="replace")
            if isinstance(value, bytes)
            else value.item()
            if hasattr(value, "item")
            else value
        )
    while isinstance(data, list) and data:
        data = data[0]
    return None if isinstance(data, list) else data


def rows_of(tensors: list[dict[str, Any]]) -> int:
    shape = tensors[0].get("shape") if tensors else None
    return int(shape[0]) if shape else 0


def columns_of(tensors: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Tensor name -> one value per row (a scalar for ``[n]`` or ``[n, 1]``, else a list)."""
    columns: dict[str, list[Any]] = {}
    for tensor in tensors:
        shape = tensor.get("shape") or [0]
        data = tensor.get("data")
        data = flat_data(data if data is not None else [])
        n = int(shape[0])
        width = math.prod(shape[1:]) if len(shape) > 1 else 1
        if width == 1:
            columns[tensor["name"]] = data[:n]
        else:
            columns[tensor["name"]] = [data[i * width : (i + 1) * width] for i in range(n)]
    return columns


def v1_predictions(outputs: list[dict[str, Any]]) -> list[Any]:
    """V2 outputs as V1 predictions: one value per row, or one object per row for many outputs."""
    columns = columns_of(outputs)
    if len(columns) == 1:
        return next(iter(columns.values()))
    rows = rows_of(outputs)
    return [{name: values[i] for name, values in columns.items()} for i in range(rows)]
