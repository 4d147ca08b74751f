"""Request and response bodies as the gateway sees them: V2 checked by the codec, V1 converted.

The gateway forwards the client's bytes unchanged; it parses them to reject bad input with a
400 that names the field, to find a routing key, and to feed the fallback rules and the tap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from runtime.errors import InvalidInput
from runtime.protocol import decode_inputs, flatten, parse_request

__all__ = ["Inbound", "parse_v2", "parse_v1", "rows_of", "columns_of", "flat_data", "v1_predictions"]


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


_INT64 = (-(2**63), 2**63 - 1)


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


def parse_v2(body: bytes) -> Inbound:
    request = parse_request(body)
    if not all(_plainly_valid(i.datatype, i.shape, i.data) for i in request.inputs) or len({i.name for i in request.inputs}) != len(request.inputs):
        decode_inputs(request)  # the codec's checks, with its messages that name the input
    inputs = [{"name": i.name, "shape": i.shape, "datatype": i.datatype, "data": i.data} for i in request.inputs]
    names = [o.name for o in request.outputs or ()]
    joinable = request.id is None and not request.parameters and not names and not any(i.parameters for i in request.inputs)
    return Inbound(body=body, inputs=inputs, output_names=names, joinable=joinable)


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
        raise InvalidInput("instances: expected a non-empty list of rows, e.g. {\"instances\": [{\"x\": 1.0}]}")
    if all(isinstance(row, dict) for row in instances):
        keys = list(instances[0])
        inputs = []
        for i, row in enumerate(instances):
            if list(row) != keys:
                raise InvalidInput(f"instances[{i}]: keys {sorted(row)} differ from instances[0] keys {sorted(keys)}")
        for key in keys:
            column = [row[key] for row in instances]
            inputs.append({"name": key, "shape": [len(column)], "datatype": _datatype(column, f"instances[*].{key}"), "data": column})
    elif all(isinstance(row, list) for row in instances):
        width = len(instances[0])
        for i, row in enumerate(instances):
            if len(row) != width:
                raise InvalidInput(f"instances[{i}]: has {len(row)} values; expected {width} like instances[0]")
        flat = [v for row in instances for v in row]
        inputs = [{"name": "instances", "shape": [len(instances), width], "datatype": _datatype(flat, "instances"), "data": flat}]
    elif not any(isinstance(row, (list, dict)) for row in instances):
        inputs = [{"name": "instances", "shape": [len(instances)], "datatype": _datatype(instances, "instances"), "data": instances}]
    else:
        raise InvalidInput("instances: rows must be all objects, all lists or all scalars")
    return parse_v2(orjson.dumps({"inputs": inputs}))


def flat_data(data: list[Any]) -> list[Any]:
    """Row-major values of flat or nested tensor data."""
    if not any(isinstance(v, list) for v in data):
        return data
    return flatten(data)[0]


def rows_of(tensors: list[dict[str, Any]]) -> int:
    shape = tensors[0].get("shape") if tensors else None
    return int(shape[0]) if shape else 0


def columns_of(tensors: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Tensor name -> one value per row (a scalar for ``[n]`` or ``[n, 1]``, else a list)."""
    columns: dict[str, list[Any]] = {}
    for tensor in tensors:
        shape = tensor.get("shape") or [0]
        data = flat_data(tensor.get("data") or [])
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
