"""The binary tensor data extension of the V2 REST protocol, as Triton and KServe define it.

A request (or response) body is a JSON header of ``Inference-Header-Content-Length`` bytes
followed by raw tensors, in the order of the header's inputs (outputs) that carry
``parameters.binary_data_size``. Numbers are little-endian, BOOL one byte per element, BYTES
each element as a 4-byte little-endian length and its bytes. A client asks for binary outputs
with ``parameters.binary_data_output`` (all outputs) or ``binary_data`` per requested output,
the latter winning. The same raw layout is gRPC's ``raw_input_contents``/``raw_output_contents``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from runtime.errors import InvalidInput
from runtime.protocol.datatypes import DATATYPES

__all__ = [
    "HEADER_LENGTH",
    "OCTET_STREAM",
    "OutputChoice",
    "split_header",
    "raw_to_array",
    "array_to_raw",
    "read_binary_inputs",
    "encode_response",
    "strip_output_choice",
]

HEADER_LENGTH = "inference-header-content-length"
OCTET_STREAM = "application/octet-stream"
_SIZE_KEY = "binary_data_size"


def split_header(body: bytes, header_length: str | None) -> tuple[Any, memoryview]:
    """The parsed JSON header of a body and the raw bytes after it (empty without the header)."""
    view = memoryview(body)
    if header_length is None:
        size = len(body)
    else:
        text = header_length.strip()
        if not text.isdigit() or int(text) > len(body):
            raise InvalidInput(
                f"Inference-Header-Content-Length: '{header_length}' is not a byte count within the "
                f"body of {len(body)} bytes; expected the length of the JSON header"
            )
        size = int(text)
    try:
        document = orjson.loads(view[:size])
    except orjson.JSONDecodeError as exc:
        where = "request body" if header_length is None else "the JSON header (Inference-Header-Content-Length bytes)"
        raise InvalidInput(f"{where} is not valid JSON: {exc}") from None
    return document, view[size:]


def _itemsize(datatype: str) -> int:
    return DATATYPES[datatype].itemsize


def raw_to_array(
    name: str, datatype: str, shape: list[int], raw: memoryview | bytes, what: str = "Input"
) -> np.ndarray:
    """A flat array from raw tensor bytes, checked against its datatype and shape."""
    dtype = DATATYPES.get(datatype)
    if dtype is None:
        raise InvalidInput(f"{what} '{name}': unknown datatype '{datatype}'; expected one of {', '.join(DATATYPES)}")
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InvalidInput(f"{what} '{name}': shape {shape} must be sizes >= 0")
    count = math.prod(shape)
    if datatype == "BYTES":
        return _read_bytes(name, raw, count, what)
    expected = count * dtype.itemsize
    if len(raw) != expected:
        raise InvalidInput(
            f"{what} '{name}': {len(raw)} bytes of binary data; shape {shape} of {datatype} needs {expected}"
        )
    array = np.frombuffer(raw, dtype=dtype.newbyteorder("<"))
    if datatype == "BOOL":
        if array.size and np.frombuffer(raw, dtype=np.uint8).max() > 1:
            raise InvalidInput(f"{what} '{name}': BOOL binary data must be bytes 0 or 1")
    elif dtype.byteorder not in ("=", "|") or not np.little_endian:
        array = array.astype(dtype)
    return array


def _read_bytes(name: str, raw: memoryview | bytes, count: int, what: str) -> np.ndarray:
    out = np.empty(count, dtype=object)
    view = memoryview(raw)
    at = 0
    for i in range(count):
        if at + 4 > len(view):
            raise InvalidInput(f"{what} '{name}': BYTES binary data ends at element {i}; expected {count} elements")
        (length,) = struct.unpack_from("<I", view, at)
        at += 4
        if at + length > len(view):
            raise InvalidInput(f"{what} '{name}': BYTES element {i} is cut short; {length} bytes declared")
        out[i] = bytes(view[at : at + length])
        at += length
    if at != len(view):
        raise InvalidInput(f"{what} '{name}': {len(view) - at} bytes of binary data after its {count} BYTES elements")
    return out


def array_to_raw(datatype: str, values: Any) -> bytes:
    """Raw bytes of a tensor's values (a flat list or an array) in the extension's layout."""
    if datatype == "BYTES":
        parts = []
        for value in np.asarray(values, dtype=object).ravel().tolist():
            item = value if isinstance(value, bytes) else str(value).encode()
            parts.append(struct.pack("<I", len(item)))
            parts.append(item)
        return b"".join(parts)
    return np.ascontiguousarray(values, dtype=DATATYPES[datatype].newbyteorder("<")).tobytes()


def read_binary_inputs(document: Mapping[str, Any], tail: memoryview) -> dict[int, np.ndarray]:
    """Arrays of the header's binary inputs by their index; every raw byte must belong to one."""
    inputs = document.get("inputs")
    arrays: dict[int, np.ndarray] = {}
    at = 0
    for i, tensor in enumerate(inputs if isinstance(inputs, list) else ()):
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        if not isinstance(parameters, dict) or _SIZE_KEY not in parameters:
            continue
        name = tensor.get("name")
        size = parameters[_SIZE_KEY]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput(f"inputs[{i}].parameters.binary_data_size: expected a byte count >= 0, got {size!r}")
        if "data" in tensor:
            raise InvalidInput(f"Input '{name}': has both 'data' and binary_data_size; send one")
        if at + size > len(tail):
            raise InvalidInput(
                f"Input '{name}': binary_data_size {size} runs past the body ({len(tail) - at} bytes left after the header)"
            )
        shape, datatype = tensor.get("shape"), tensor.get("datatype")
        if isinstance(shape, list) and isinstance(datatype, str):
            arrays[i] = raw_to_array(str(name), datatype, shape, tail[at : at + size])
        at += size
    if at != len(tail):
        raise InvalidInput(
            f"the body holds {len(tail) - at} bytes after the JSON header that no input's binary_data_size accounts for"
        )
    return arrays


@dataclass(frozen=True, slots=True)
class OutputChoice:
    """Which outputs a client wants as binary data."""

    all_binary: bool = False
    by_name: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> OutputChoice:
        parameters = document.get("parameters")
        everything = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
        by_name = {}
        for output in document.get("outputs") or ():
            params = output.get("parameters") if isinstance(output, dict) else None
            if isinstance(params, dict) and isinstance(params.get("binary_data"), bool):
                by_name[str(output.get("name"))] = params["binary_data"]
        return cls(everything, by_name)

    def binary(self, name: str) -> bool:
        return self.by_name.get(name, self.all_binary)

    @property
    def any(self) -> bool:
        return self.all_binary or any(self.by_name.values())


def strip_output_choice(document: dict[str, Any]) -> bool:
    """Remove the binary-output flags from a request header in place; whether there were any."""
    changed = False
    parameters = document.get("parameters")
    if isinstance(parameters, dict) and "binary_data_output" in parameters:
        del parameters["binary_data_output"]
        changed = True
    for output in document.get("outputs") or ():
        params = output.get("parameters") if isinstance(output, dict) else None
        if isinstance(params, dict) and "binary_data" in params:
            del params["binary_data"]
            changed = True
    return changed


def encode_response(response: Mapping[str, Any], choice: OutputChoice) -> tuple[bytes, int | None]:
    """A V2 response body, with the outputs the client asked for as raw tensors after the header.

    Returns the body and the header length (``None`` when the body is plain JSON).
    """
    if not choice.any:
        return orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY), None
    outputs, raws = [], []
    for output in response.get("outputs") or ():
        if not choice.binary(output["name"]):
            outputs.append(output)
            continue
        raw = array_to_raw(output["datatype"], output.get("data", []))
        raws.append(raw)
        parameters = {**(output.get("parameters") or {}), _SIZE_KEY: len(raw)}
        outputs.append({k: v for k, v in output.items() if k != "data"} | {"parameters": parameters})
    header = orjson.dumps({**response, "outputs": outputs}, option=orjson.OPT_SERIALIZE_NUMPY)
    return b"".join([header, *raws]), len(header)
