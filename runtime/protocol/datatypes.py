"""V2 datatypes and their numpy counterparts."""

from __future__ import annotations

import numpy as np

__all__ = ["DATATYPES", "to_dtype", "datatype_of", "accepts"]

DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
"""Every V2 datatype; BYTES travels as JSON strings and lives in object arrays."""


def to_dtype(datatype: str) -> np.dtype:
    """The numpy dtype of a V2 datatype; ``KeyError`` for an unknown one."""
    return DATATYPES[datatype]


def datatype_of(dtype: np.dtype) -> str:
    """The V2 datatype of a numpy dtype (strings, bytes and objects are BYTES)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OSUa" or dtype.kind == "T":
        return "BYTES"
    for name, candidate in DATATYPES.items():
        if candidate == dtype:
            return name
    if dtype.kind == "M":
        return "BYTES"
    raise ValueError(f"no V2 datatype for numpy dtype {dtype}")


def accepts(expected: str, sent: str) -> bool:
    """Whether data sent as ``sent`` may feed an input declared as ``expected``.

    Within a kind, any width converts (INT64 feeds INT32, FP32 feeds FP64); integers feed
    floats; floats never feed integers, and BOOL and BYTES only feed themselves.
    """
    if expected == sent:
        return True
    if "BOOL" in (expected, sent) or "BYTES" in (expected, sent):
        return False
    want, got = to_dtype(expected).kind, to_dtype(sent).kind
    if want == "f":
        return got in "iuf"
    return want in "iu" and got in "iu"
