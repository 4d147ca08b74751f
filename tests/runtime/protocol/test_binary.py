"""The binary tensor extension, checked against tritonclient's and KServe's own encoders."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from kserve.protocol.infer_type import InferResponse

from runtime.errors import InvalidInput
from runtime.protocol import decode_inputs
from runtime.protocol.binary import OutputChoice, encode_response, raw_to_array
from runtime.protocol.rest import read_request

ARRAYS = {
    "BOOL": np.array([[True, False, True], [False, False, True]]),
    "INT8": np.array([[-128, 0, 127], [1, 2, 3]], dtype=np.int8),
    "INT16": np.array([[-32768, 0, 32767], [1, 2, 3]], dtype=np.int16),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1], [1, 2, 3]], dtype=np.int32),
    "INT64": np.array([[-(2**63), 0, 2**63 - 1], [1, 2, 3]], dtype=np.int64),
    "UINT8": np.array([[0, 1, 255], [1, 2, 3]], dtype=np.uint8),
    "UINT16": np.array([[0, 1, 65535], [1, 2, 3]], dtype=np.uint16),
    "UINT32": np.array([[0, 1, 2**32 - 1], [1, 2, 3]], dtype=np.uint32),
    "UINT64": np.array([[0, 1, 2**64 - 1], [1, 2, 3]], dtype=np.uint64),
    "FP16": np.array([[0.5, -1.25, 65504.0], [1, 2, 3]], dtype=np.float16),
    "FP32": np.array([[0.5, -1.25, 3.4e38], [1, 2, 3]], dtype=np.float32),
    "FP64": np.array([[0.5, -1.25, 1e308], [1, 2, 3]], dtype=np.float64),
    "BYTES": np.array([[b"a", b"", "é".encode()], [b"\x00\xff", b"bc", b"d"]], dtype=object),
}


def triton_body(datatype: str, array: np.ndarray, **kwargs) -> tuple[bytes, int | None]:
    tensor = triton.InferInput("x", list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=True)
    return triton.InferenceServerClient.generate_request_body([tensor], **kwargs)


@pytest.mark.parametrize("datatype", sorted(ARRAYS))
def test_every_datatype_reads_as_tritonclient_wrote_it(datatype):
    body, header_length = triton_body(datatype, ARRAYS[datatype], request_id="r-1")
    parsed = read_request(body, str(header_length))
    inp = parsed.request.inputs[0]
    assert parsed.binary and parsed.request.id == "r-1"
    assert inp.shape == [2, 3] and inp.datatype == datatype
    assert np.array_equal(np.asarray(inp.data).reshape(2, 3), ARRAYS[datatype])
    assert inp.parameters is None, "binary_data_size is the transport's, not the model's"


@pytest.mark.parametrize("datatype", sorted(ARRAYS))
def test_binary_outputs_read_back_by_kserve(datatype):
    array = ARRAYS[datatype]
    data = ["a", "", "é", "x y", "bc", "d"] if datatype == "BYTES" else array.ravel().tolist()
    response = {
        "model_name": "m",
        "id": "r",
        "outputs": [{"name": "y", "shape": [2, 3], "datatype": datatype, "data": data}],
    }
    body, header_length = encode_response(response, OutputChoice(all_binary=True))
    decoded = InferResponse.from_bytes(body, header_length)
    out = decoded.outputs[0].as_numpy()
    if datatype == "BYTES":
        assert [v.decode() if isinstance(v, bytes) else v for v in out.reshape(-1).tolist()] == data
    else:
        assert np.array_equal(out.reshape(2, 3), array)


def test_per_output_choice_wins_over_binary_data_output():
    choice = OutputChoice.of(
        {
            "parameters": {"binary_data_output": True},
            "outputs": [{"name": "a", "parameters": {"binary_data": False}}, {"name": "b"}],
        }
    )
    assert not choice.binary("a") and choice.binary("b") and choice.binary("other")
    response = {
        "model_name": "m",
        "outputs": [{"name": n, "shape": [1], "datatype": "FP32", "data": [1.0]} for n in "ab"],
    }
    body, header_length = encode_response(response, choice)
    header = orjson.loads(body[:header_length])
    assert header["outputs"][0]["data"] == [1.0]
    assert header["outputs"][1]["parameters"] == {"binary_data_size": 4} and "data" not in header["outputs"][1]
    assert len(body) == header_length + 4


def test_json_without_any_binary_flag_stays_json():
    response = {"model_name": "m", "outputs": [{"name": "y", "shape": [1], "datatype": "FP32", "data": [1.0]}]}
    body, header_length = encode_response(response, OutputChoice())
    assert header_length is None and orjson.loads(body) == response


def test_kserve_model_name_in_the_body_is_accepted():
    body = orjson.dumps(
        {"model_name": "m", "id": "1", "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}
    )
    assert read_request(body).request.inputs[0].data == [1]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda body, n: (body[:-1], n), r"Input 'x': binary_data_size 24 runs past the body \(23 bytes left"),
        (
            lambda body, n: (body + b"\0", n),
            "1 bytes after the JSON header that no input's binary_data_size accounts for",
        ),
        (lambda body, n: (body, "12x"), "Inference-Header-Content-Length: '12x' is not a byte count"),
        (lambda body, n: (body, str(len(body) + 1)), "is not a byte count within the body"),
        (lambda body, n: (body, str(n - 1)), "the JSON header .* is not valid JSON"),
    ],
)
def test_malformed_binary_requests_name_what_is_wrong(mutate, message):
    body, header_length = triton_body("FP32", ARRAYS["FP32"])
    body, header = mutate(body, header_length)
    with pytest.raises(InvalidInput, match=message):
        read_request(body, str(header))


def test_bool_bytes_other_than_zero_or_one_are_refused():
    with pytest.raises(InvalidInput, match="BOOL binary data must be bytes 0 or 1"):
        raw_to_array("x", "BOOL", [2], b"\x01\x02")


def test_cut_bytes_elements_are_refused():
    with pytest.raises(InvalidInput, match="BYTES element 0 is cut short; 9 bytes declared"):
        raw_to_array("x", "BYTES", [1], b"\x09\x00\x00\x00abc")


def test_data_and_binary_size_together_are_refused():
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0], "parameters": {"binary_data_size": 4}}
            ]
        }
    )
    with pytest.raises(InvalidInput, match="Input 'x': has both 'data' and binary_data_size"):
        read_request(header + b"\0\0\0\0", str(len(header)))


def test_a_size_that_does_not_fill_the_shape_is_refused():
    header = orjson.dumps(
        {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": 20}}]}
    )
    with pytest.raises(InvalidInput, match=r"Input 'x': 20 bytes of binary data; shape \[2, 3\] of FP32 needs 24"):
        read_request(header + bytes(20), str(len(header)))


def test_json_uint64_past_int64_keeps_every_digit():
    body = orjson.dumps({"inputs": [{"name": "x", "shape": [2], "datatype": "UINT64", "data": [0, 2**64 - 1]}]})
    assert decode_inputs(read_request(body).request)["x"].tolist() == [0, 2**64 - 1]
