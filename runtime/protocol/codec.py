"""Decode V2 requests into arrays checked against a model's inputs; encode predictions.

Every problem raises ``InvalidInput`` with a message that names the input (or the field) and
says what was expected, so a server can answer 400 ``{"error": "..."}`` without a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pydantic import ValidationError

from runtime.errors import InvalidInput, validation_problems
from runtime.protocol.datatypes import DATATYPES, accepts, datatype_of
from runtime.protocol.types import InferenceRequest, InferenceResponse, ResponseOutput

__all__ = [
    "InputSpec",
    "DEFAULT_OUTPUT",
    "parse_request",
    "decode_input",
    "decode_inputs",
    "decode_columns",
    "decode_column_arrays",
    "decode_tensor",
    "encode_predictions",
    "encode_array",
    "build_response",
    "error_body",
    "flatten",
    "MAX_RANK",
]

DEFAULT_OUTPUT = "predict"
"""Name of an output when the model's prediction and signature name none."""

MAX_RANK = 32
"""Most dimensions a tensor may have (numpy's own limit is 64; no model input needs more than a few)."""


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One input a model declares: a column (``shape == [-1]``) or a tensor (``[-1, ...]``)."""

    name: str
    datatype: str
    shape: tuple[int, ...] = (-1,)
    optional: bool = False
    """An optional input may be absent and may carry missing values (null, NaN)."""


def parse_request(body: bytes | str | Mapping[str, Any]) -> InferenceRequest:
    """Parse a V2 inference request body; errors name the field, e.g. ``inputs[0].datatype``."""
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, Mapping):
        raise InvalidInput(f"request body must be a JSON object with 'inputs', got {type(body).__name__}")
    try:
        return InferenceRequest.model_validate(body)
    except ValidationError as exc:
        problems = validation_problems(exc.errors(include_url=False), root="request")
        raise InvalidInput("invalid inference request: " + "; ".join(problems)) from None


def _first_bad(values: np.ndarray, ok) -> tuple[int, Any]:
    for i, value in enumerate(values.ravel().tolist()):
        if not ok(value):
            return i, value
    return -1, None


def decode_input(
    name: str, datatype: str, shape: Sequence[int], data: list[Any], allow_missing: bool = True
) -> np.ndarray:
    """One V2 tensor as a numpy array of its datatype and shape.

    ``allow_missing`` lets floating inputs carry null (as NaN) and NaN; without it either is an
    error naming the input and the position.
    """
    dtype = DATATYPES.get(datatype)
    if dtype is None:
        raise InvalidInput(f"Input '{name}': unknown datatype '{datatype}'; expected one of {', '.join(DATATYPES)}")
    if any(d < 0 for d in shape):
        raise InvalidInput(f"Input '{name}': shape {list(shape)} has a negative dimension; expected sizes >= 0")
    if len(shape) > MAX_RANK:
        raise InvalidInput(f"Input '{name}': shape has {len(shape)} dimensions; expected at most {MAX_RANK}")
    size = math.prod(shape)
    nested = any(isinstance(v, list) for v in data)
    flat, depth = flatten(data) if nested else (data, 1)
    if depth > max(len(shape), 1):
        raise InvalidInput(
            f"Input '{name}': data is nested {depth} levels deep but shape {list(shape)} has {len(shape)} dimension(s); "
            "expected flat row-major data or lists nested at most as deep as the shape"
        )
    if datatype == "BYTES":
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        if array.size:
            at, value = _first_bad(array, lambda v: isinstance(v, (str, bytes)))
            if at >= 0:
                raise InvalidInput(f"Input '{name}': BYTES data must be strings; got {value!r} at position {at}")
    else:
        try:
            raw = np.asarray(data)
        except ValueError:
            raise InvalidInput(
                f"Input '{name}': data is ragged; expected row-major data for shape {list(shape)}"
            ) from None
        if dtype.kind == "u" and raw.dtype.kind in "fO" and flat and all(type(v) is int for v in flat):
            raw = _whole_unsigned(name, datatype, dtype, data, flat)
        array = _numeric(name, datatype, dtype, raw, data, allow_missing)
    if array.size != size:
        raise InvalidInput(f"Input '{name}': shape {list(shape)} holds {size} values but data has {array.size}")
    array = array.reshape(shape)
    if dtype.kind == "f" and not allow_missing and array.size and np.isnan(array).any():
        at = int(np.flatnonzero(np.isnan(array.ravel()))[0])
        raise InvalidInput(f"Input '{name}': NaN at position {at}; the model's signature requires a value")
    return array


def _whole_unsigned(name: str, datatype: str, dtype: np.dtype, data: list[Any], flat: list[int]) -> np.ndarray:
    """Whole numbers past INT64's range, which numpy would read as floats and round."""
    low, high = min(flat), max(flat)
    info = np.iinfo(dtype)
    if low < 0 or high > info.max:
        raise InvalidInput(
            f"Input '{name}': value {low if low < 0 else high} is out of range for {datatype} [{info.min}, {info.max}]"
        )
    return np.array(data, dtype=dtype)


def flatten(data: list[Any]) -> tuple[list[Any], int]:
    """Row-major values of flat or nested data and the depth of its nesting (1 when flat).

    Iterative: a body nested a thousand levels deep is an input error, not a RecursionError.
    """
    out: list[Any] = []
    depth = 1
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                depth = max(depth, len(stack))
                break
            out.append(value)
        else:
            stack.pop()
    return out, depth


def _check_range(where: str, datatype: str, values: np.ndarray, target: np.dtype) -> None:
    """Values must fit ``target`` (the declared type): casting would wrap integers or overflow floats."""
    if not values.size or values.dtype.kind not in "iuf" or np.can_cast(values.dtype, target, "safe"):
        return
    low: float
    high: float
    if target.kind in "iu":
        info = np.iinfo(target)
        low, high = info.min, info.max
        # Against floats, compare with high + 1 (a power of two, exact as a float): high itself
        # rounds up, so 2.0**64 would pass as a UINT64.
        bad = (values < low) | ((values >= float(high) + 1) if values.dtype.kind == "f" else (values > high))
    elif target.kind == "f":
        high = float(np.finfo(target).max)
        low = -high
        wide = values.astype(np.float64)
        bad = np.isfinite(wide) & (np.abs(wide) > high)
    else:
        return
    if bad.any():
        at = int(np.flatnonzero(bad.ravel())[0])
        bounds = f"[{low:g}, {high:g}]" if target.kind == "f" else f"[{low}, {high}]"
        raise InvalidInput(
            f"{where}: value {values.ravel()[at].item()!r} at position {at} is out of range for {datatype} {bounds}"
        )


def _numeric(
    name: str, datatype: str, dtype: np.dtype, raw: np.ndarray, data: list[Any], allow_missing: bool
) -> np.ndarray:
    kind = raw.dtype.kind
    if kind == "O" and dtype.kind == "f" and allow_missing:
        at, value = _first_bad(raw, lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))
        if at < 0:
            return np.array(raw, dtype=dtype)
    if kind == "O" and dtype.kind == "f" and not allow_missing:
        at, value = _first_bad(raw, lambda v: v is not None)
        if at >= 0:
            raise InvalidInput(f"Input '{name}': null at position {at}; the model's signature requires a value")
    if datatype == "BOOL":
        if kind != "b" and raw.size:
            at, value = _first_bad(raw, lambda v: isinstance(v, bool))
            raise InvalidInput(f"Input '{name}': BOOL data must be true or false; got {value!r} at position {at}")
        return raw.astype(dtype, copy=False)
    if kind not in "iuf" and raw.size:
        at, value = _first_bad(raw, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        raise InvalidInput(f"Input '{name}': {datatype} data must be numbers; got {value!r} at position {max(at, 0)}")
    if dtype.kind in "iu" and raw.size:
        if kind == "f":
            whole = np.isfinite(raw) & (raw == np.round(raw))
            if not whole.all():
                at = int(np.flatnonzero(~whole.ravel())[0])
                raise InvalidInput(
                    f"Input '{name}': {datatype} data must be integers; got {raw.ravel()[at].item()!r} at position {at}"
                )
    _check_range(f"Input '{name}'", datatype, raw, dtype)
    return raw.astype(dtype, copy=False)


def decode_inputs(request: InferenceRequest) -> dict[str, np.ndarray]:
    """Every input of a request by name, checked for datatype, shape and data (no signature)."""
    arrays: dict[str, np.ndarray] = {}
    for inp in request.inputs:
        if inp.name in arrays:
            raise InvalidInput(f"Input '{inp.name}' appears more than once; send each input once")
        arrays[inp.name] = decode_input(inp.name, inp.datatype, inp.shape, inp.data)
    return arrays


def _expected(specs: Sequence[InputSpec]) -> str:
    return ", ".join(f"{s.name} ({s.datatype})" for s in specs)


def _check_datatype(name: str, sent: str, spec: InputSpec) -> None:
    if not accepts(spec.datatype, sent):
        raise InvalidInput(
            f"Input '{name}': datatype {sent} does not match the model's signature; expected {spec.datatype}"
        )


def decode_columns(request: InferenceRequest, specs: Sequence[InputSpec]) -> pd.DataFrame:
    """A request as a DataFrame with one column per declared input, in signature order.

    The request sends either one tensor per column (shape ``[n]`` or ``[n, 1]``) or a single
    2-D tensor ``[n, k]`` whose k columns follow the signature's order.
    """
    return pd.DataFrame(decode_column_arrays(request, specs))


AT_ONCE_VALUES = 4096
"""Most values a request may carry to be decoded in one conversion (``_columns_at_once``): past
that, checking each value's type in Python would cost more than it saves."""


def decode_column_arrays(request: InferenceRequest, specs: Sequence[InputSpec]) -> dict[str, np.ndarray]:
    """As ``decode_columns``, as 1-D arrays by name: cheaper to build and to join into batches."""
    inputs = request.inputs
    at_once = _columns_at_once(inputs, specs)
    return at_once if at_once is not None else _columns_each(inputs, specs)


def _columns_each(inputs: Sequence[Any], specs: Sequence[InputSpec]) -> dict[str, np.ndarray]:
    """``decode_column_arrays`` one input at a time: any request, every error worded."""
    by_name = {s.name: s for s in specs}
    if len(inputs) == 1 and inputs[0].name not in by_name and len(inputs[0].shape) == 2 and len(specs) > 0:
        return _from_matrix(inputs[0], specs)
    columns: dict[str, np.ndarray] = {}
    rows: tuple[str, int] | None = None
    for inp in inputs:
        spec = by_name.get(inp.name)
        if spec is None:
            raise InvalidInput(f"Input '{inp.name}' is not an input of this model; expected inputs: {_expected(specs)}")
        if inp.name in columns:
            raise InvalidInput(f"Input '{inp.name}' appears more than once; send each input once")
        _check_datatype(inp.name, inp.datatype, spec)
        if not (len(inp.shape) == 1 or (len(inp.shape) == 2 and inp.shape[1] == 1)):
            raise InvalidInput(f"Input '{inp.name}': shape {inp.shape} is not a column; expected [n] or [n, 1]")
        array = decode_input(inp.name, inp.datatype, inp.shape, inp.data, allow_missing=spec.optional)
        n = inp.shape[0]
        if rows is not None and n != rows[1]:
            raise InvalidInput(
                f"Input '{inp.name}' has {n} rows but input '{rows[0]}' has {rows[1]}; every input needs the same number of rows"
            )
        rows = rows or (inp.name, n)
        columns[inp.name] = _as(f"Input '{inp.name}'", array.reshape(n), spec)
    missing = [s.name for s in specs if s.name not in columns and not s.optional]
    if missing:
        raise InvalidInput(f"Input '{missing[0]}' is missing; expected inputs: {_expected(specs)}")
    if rows is None or rows[1] == 0:
        raise InvalidInput(f"Input '{inputs[0].name}' has no rows; expected at least one")
    return {s.name: columns[s.name] for s in specs if s.name in columns}


def _columns_at_once(inputs: Sequence[Any], specs: Sequence[InputSpec]) -> dict[str, np.ndarray] | None:
    """The columns of the common tabular request in one numpy conversion, or None.

    That request sends every declared input, in the signature's order, as one flat JSON column
    of the datatype declared, all inputs of one numeric datatype. Decoding each input on its own
    costs a handful of small numpy calls per input, the largest part of a small request's
    decoding. Only what the per-input path would accept unchanged is taken here: any other
    request (another order, a missing or optional value, a type or a range the declared
    datatype does not take) returns None and goes the per-input way, which answers it and
    words its error as before.
    """
    if len(inputs) != len(specs) or not specs or len({spec.name for spec in specs}) != len(specs):
        return None  # (a name declared twice: the per-input path refuses it sent twice)
    datatype = specs[0].datatype
    dtype = DATATYPES.get(datatype)
    if dtype is None or dtype.kind not in "iuf":
        return None
    rows = inputs[0].shape[0] if inputs[0].shape else 0
    if not rows or rows * len(specs) > AT_ONCE_VALUES:
        return None
    columns = []
    for inp, spec in zip(inputs, specs):
        shape, data = inp.shape, inp.data
        if (
            inp.name != spec.name
            or inp.datatype != datatype
            or spec.datatype != datatype
            or type(data) is not list
            or len(data) != rows
            or not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1))
            or shape[0] != rows
        ):
            return None
        columns.append(data)
    floats = dtype.kind == "f"
    for data in columns:
        for value in data:
            kind = type(value)
            if kind is not int and (kind is not float or not floats):
                return None
            if kind is int and floats and not -(2**53) <= value <= 2**53:
                # Beside a float column it would round to FP64 first, then again to the
                # declared type: the per-input path rounds it once.
                return None
    try:
        matrix: np.ndarray = np.array(columns)
    except (ValueError, OverflowError):
        return None
    if matrix.dtype.kind not in "iuf" or (matrix.dtype.kind == "f" and np.isnan(matrix).any()):
        return None
    try:
        _check_range("", datatype, matrix, dtype)
    except InvalidInput:
        return None
    matrix = matrix.astype(dtype, copy=False)
    return {spec.name: matrix[j] for j, spec in enumerate(specs)}


def _from_matrix(inp, specs: Sequence[InputSpec]) -> dict[str, np.ndarray]:
    n, k = inp.shape
    if k != len(specs):
        raise InvalidInput(
            f"Input '{inp.name}': shape {inp.shape} has {k} columns; expected {len(specs)} ({_expected(specs)}) or one input per column"
        )
    # One tensor has one datatype, so a float matrix may carry integer columns: their values
    # must then be whole numbers.
    whole_only = [
        j
        for j, s in enumerate(specs)
        if DATATYPES[s.datatype].kind in "iu" and DATATYPES.get(inp.datatype, np.dtype(object)).kind == "f"
    ]
    for j, spec in enumerate(specs):
        if j not in whole_only:
            _check_datatype(inp.name, inp.datatype, spec)
    if n == 0:
        raise InvalidInput(f"Input '{inp.name}' has no rows; expected at least one")
    array = decode_input(inp.name, inp.datatype, inp.shape, inp.data, allow_missing=all(s.optional for s in specs))
    for j in whole_only:
        column = array[:, j]
        whole = np.isfinite(column) & (column == np.round(column))
        if not whole.all():
            row = int(np.flatnonzero(~whole)[0])
            raise InvalidInput(
                f"Input '{inp.name}': column {j} ('{specs[j].name}', {specs[j].datatype}) needs whole numbers; got {column[row].item()!r} at row {row}"
            )
    return {s.name: _as(f"Input '{inp.name}': column {j} ('{s.name}')", array[:, j], s) for j, s in enumerate(specs)}


def _as(where: str, column: np.ndarray, spec: InputSpec) -> np.ndarray:
    """``column`` as the declared datatype, refusing values the narrower type cannot hold."""
    if spec.datatype == "BYTES":
        return column
    target = DATATYPES[spec.datatype]
    _check_range(where, spec.datatype, column, target)
    return column.astype(target, copy=False)


def decode_tensor(request: InferenceRequest, spec: InputSpec) -> np.ndarray:
    """A request for a model that takes one tensor (``spec.shape`` like ``[-1, 4]``)."""
    if len(request.inputs) != 1:
        names = ", ".join(i.name for i in request.inputs)
        raise InvalidInput(
            f"this model takes one input tensor '{spec.name}' ({spec.datatype}, shape {list(spec.shape)}); got {len(request.inputs)}: {names}"
        )
    inp = request.inputs[0]
    _check_datatype(inp.name, inp.datatype, spec)
    expected = list(spec.shape)
    if len(inp.shape) != len(expected) or any(e >= 0 and e != s for e, s in zip(expected, inp.shape)):
        raise InvalidInput(
            f"Input '{inp.name}': shape {inp.shape} does not match the model's signature; expected {expected} (-1 is any size)"
        )
    if inp.shape[0] == 0:
        raise InvalidInput(f"Input '{inp.name}' has no rows; expected at least one")
    array = decode_input(inp.name, inp.datatype, inp.shape, inp.data, allow_missing=spec.optional)
    return _as(f"Input '{inp.name}'", array, spec)


def encode_array(name: str, values: Any) -> ResponseOutput:
    """One named output from an array-like; its datatype follows the values' dtype."""
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    datatype = datatype_of(array.dtype)
    if datatype == "BYTES":
        data = [v.decode() if isinstance(v, bytes) else str(v) for v in array.ravel().tolist()]
    else:
        data = array.ravel().tolist()
    return ResponseOutput(name=name, shape=list(array.shape), datatype=datatype, data=data)


def encode_predictions(predictions: Any, names: Sequence[str] = ()) -> list[ResponseOutput]:
    """A model's prediction as named, typed outputs.

    A DataFrame or a dict gives one output per column or key; a Series is named after itself;
    an array or a list takes the first of ``names`` (the signature's), else ``DEFAULT_OUTPUT``.
    """
    if isinstance(predictions, pd.DataFrame):
        return [encode_array(str(column), predictions[column].to_numpy()) for column in predictions.columns]
    if isinstance(predictions, Mapping):
        return [encode_array(str(key), value) for key, value in predictions.items()]
    if isinstance(predictions, pd.Series):
        name = predictions.name if isinstance(predictions.name, str) else (names[0] if names else DEFAULT_OUTPUT)
        return [encode_array(name, predictions.to_numpy())]
    return [encode_array(names[0] if names else DEFAULT_OUTPUT, predictions)]


def build_response(
    model_name: str,
    outputs: list[ResponseOutput],
    request_id: str | None = None,
    model_version: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> InferenceResponse:
    return InferenceResponse(
        model_name=model_name, model_version=model_version, id=request_id, parameters=parameters, outputs=outputs
    )


def error_body(error: BaseException | str) -> dict[str, str]:
    """The body every server answers an error with: ``{"error": "..."}``."""
    return {"error": getattr(error, "message", None) or str(error)}
