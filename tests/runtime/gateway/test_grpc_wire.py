"""ModelInferRequest read from its wire bytes: the same message and tensors as protobuf's own parse."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

from runtime.gateway.grpc_codec import inbound_of
from runtime.gateway.grpc_wire import WireInferRequest, read_infer_request

Tensor = pb.ModelInferRequest.InferInputTensor


def whole(data: bytes) -> WireInferRequest:
    """What the gateway read before: protobuf's parse, every raw tensor copied out."""
    message = pb.ModelInferRequest.FromString(data)
    return WireInferRequest(message, list(message.raw_input_contents))


def without_raw(message: pb.ModelInferRequest) -> pb.ModelInferRequest:
    copy = pb.ModelInferRequest()
    copy.CopyFrom(message)
    copy.ClearField("raw_input_contents")
    return copy


def assert_same(data: bytes) -> WireInferRequest:
    read, expected = read_infer_request(data), whole(data)
    assert read.message == without_raw(expected.message)
    assert [bytes(r) for r in read.raw] == [bytes(r) for r in expected.raw]
    return read


names = st.text(min_size=1, max_size=12)
parameter = st.one_of(
    st.builds(lambda v: pb.InferParameter(bool_param=v), st.booleans()),
    st.builds(lambda v: pb.InferParameter(int64_param=v), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: pb.InferParameter(string_param=v), st.text(max_size=8)),
)


@st.composite
def requests(draw: st.DrawFn) -> pb.ModelInferRequest:
    count = draw(st.integers(0, 3))
    inputs = [
        Tensor(
            name=draw(names),
            datatype="FP32",
            shape=draw(st.lists(st.integers(0, 2**40), max_size=4)),
            parameters=draw(st.dictionaries(names, parameter, max_size=2)),
        )
        for _ in range(count)
    ]
    raw = draw(st.lists(st.binary(max_size=300), min_size=count, max_size=count)) if draw(st.booleans()) else []
    return pb.ModelInferRequest(
        model_name=draw(st.text(max_size=10)),
        model_version=draw(st.text(max_size=3)),
        id=draw(st.text(max_size=10)),
        parameters=draw(st.dictionaries(names, parameter, max_size=2)),
        inputs=inputs,
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name=n) for n in draw(st.lists(names, max_size=2))],
        raw_input_contents=raw,
    )


@settings(max_examples=300, deadline=None)
@given(requests())
def test_any_request_reads_as_protobuf_reads_it(request: pb.ModelInferRequest) -> None:
    assert_same(request.SerializeToString())


@settings(max_examples=100, deadline=None)
@given(requests(), requests())
def test_fields_in_any_order_and_repeated_read_as_protobuf_merges_them(
    first: pb.ModelInferRequest, second: pb.ModelInferRequest
) -> None:
    # Raw tensors before the inputs, a model name given twice (the last wins): still protobuf's answer.
    raw_first = pb.ModelInferRequest(raw_input_contents=second.raw_input_contents).SerializeToString()
    rest = without_raw(second).SerializeToString()
    assert_same(first.SerializeToString() + raw_first + rest)


def test_a_raw_tensor_is_a_view_of_the_received_bytes_not_a_copy() -> None:
    tensor = np.arange(224 * 224 * 3, dtype=np.float32).tobytes()
    data = pb.ModelInferRequest(
        model_name="image",
        inputs=[Tensor(name="x", datatype="FP32", shape=[1, 224, 224, 3])],
        raw_input_contents=[tensor],
    ).SerializeToString()
    read = assert_same(data)
    assert isinstance(read.raw[0], memoryview) and read.raw[0].obj is data
    assert read.message.inputs[0].shape == [1, 224, 224, 3] and read.message.model_name == "image"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(bytes([7 << 3 | 0, 5]), id="raw_input_contents as a varint"),
        pytest.param(bytes([1 << 3 | 3, 1 << 3 | 4]), id="a group"),
        pytest.param(bytes([9 << 3 | 1, *range(8)]) + bytes([10 << 3 | 5, 1, 2, 3, 4]), id="fixed64 and fixed32"),
        pytest.param(bytes([0x80] * 11), id="a varint over ten bytes"),
    ],
)
def test_unusual_bytes_read_as_protobuf_reads_them(data: bytes) -> None:
    try:
        expected = whole(data)
    except DecodeError:
        with pytest.raises(DecodeError):
            read_infer_request(data)
        return
    read = read_infer_request(data)
    assert read.message == without_raw(expected.message) and read.raw == expected.raw


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(bytes([7 << 3 | 2, 10, 1, 2]), id="raw tensor longer than the message"),
        pytest.param(bytes([1 << 3 | 2, 5, 97]), id="string longer than the message"),
        pytest.param(bytes([7 << 3 | 2, 0x80]), id="length varint cut off"),
        pytest.param(bytes([9 << 3 | 1, 1, 2]), id="fixed64 cut off"),
    ],
)
def test_truncated_bytes_are_protobufs_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        pb.ModelInferRequest.FromString(data)
    with pytest.raises(DecodeError):
        read_infer_request(data)


def test_the_gateway_builds_the_same_body_from_views_as_from_copies() -> None:
    rng = np.random.default_rng(3)
    image = rng.standard_normal((1, 224, 224, 3)).astype(np.float32)
    ids = rng.integers(0, 9, (2, 3)).astype(np.int64)
    data = pb.ModelInferRequest(
        model_name="m",
        id="r-1",
        inputs=[
            Tensor(name="x", datatype="FP32", shape=[1, 224, 224, 3]),
            Tensor(name="k", datatype="INT64", shape=[2, 3]),
        ],
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="predict")],
        raw_input_contents=[image.tobytes(), ids.tobytes()],
    ).SerializeToString()
    read, before = inbound_of(read_infer_request(data)), inbound_of(whole(data))
    assert read.body == before.body and read.content_headers == before.content_headers
    assert read.output_names == before.output_names == ["predict"]
    for got, want in zip(read.inputs, before.inputs, strict=True):
        assert {k: v for k, v in got.items() if k != "data"} == {k: v for k, v in want.items() if k != "data"}
        np.testing.assert_array_equal(got["data"], want["data"])
    np.testing.assert_array_equal(read.inputs[0]["data"], image.ravel())
