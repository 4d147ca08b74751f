"""A ``ModelInferRequest`` read from its wire bytes with the raw tensors left where they arrived.

Protobuf's parser copies every ``raw_input_contents`` entry into the message, and reading the
field copies it again into a new ``bytes``; for a 224x224x3 FP32 image that is two 602 KB
copies per request before the gateway builds its binary V2 body (runtime/gateway/grpc_codec.py).
Here the top-level fields are walked once: field 7 (``raw_input_contents``) becomes views of the
received bytes, and the other fields, a few hundred bytes, are parsed by protobuf as usual.
Concatenated fields parse as the whole message would (protobuf merges them in order), so the
result is the same message; anything unusual (a group, a field 7 that is not length-delimited,
a truncated varint or field) is parsed whole by protobuf instead, with its usual errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

__all__ = ["WireInferRequest", "read_infer_request"]

RAW_INPUT_CONTENTS = 7
"""``raw_input_contents``' field number in ``inference.ModelInferRequest``."""
_LENGTH_DELIMITED = 2


@dataclass(frozen=True, slots=True)
class WireInferRequest:
    message: pb.ModelInferRequest
    """Every field of the request but ``raw_input_contents``."""
    raw: list[memoryview] | list[bytes]
    """``raw_input_contents``, in order."""


class _Unusual(Exception):
    """Bytes this walk leaves to protobuf's own parser."""


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while shift < 64:
        if i >= len(data):
            raise _Unusual
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
    raise _Unusual


def _field_end(data: bytes, wire_type: int, i: int) -> int:
    if wire_type == 0:
        return _varint(data, i)[1]
    if wire_type == 1:
        return i + 8
    if wire_type == 5:
        return i + 4
    if wire_type == _LENGTH_DELIMITED:
        length, i = _varint(data, i)
        return i + length
    raise _Unusual  # groups (3, 4) and invalid wire types


def _split(data: bytes) -> tuple[bytes, list[memoryview]]:
    view = memoryview(data)
    rest, raw = [], []
    i = 0
    while i < len(data):
        key, start = _varint(data, i)
        number, wire_type = key >> 3, key & 7
        if number == RAW_INPUT_CONTENTS:
            if wire_type != _LENGTH_DELIMITED:
                raise _Unusual
            length, start = _varint(data, start)
            end = start + length
            if end > len(data):
                raise _Unusual
            raw.append(view[start:end])
        else:
            end = _field_end(data, wire_type, start)
            if end > len(data):
                raise _Unusual
            rest.append(view[i:end])
        i = end
    return b"".join(rest), raw


def read_infer_request(data: bytes) -> WireInferRequest:
    """gRPC's ``request_deserializer`` for ``ModelInfer``."""
    try:
        rest, raw = _split(data)
    except _Unusual:
        message = pb.ModelInferRequest.FromString(data)
        return WireInferRequest(message, list(message.raw_input_contents))
    return WireInferRequest(pb.ModelInferRequest.FromString(rest), raw)
