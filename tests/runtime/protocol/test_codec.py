import math
import re

import numpy as np
import pandas as pd
import pytest

from runtime.errors import InvalidInput
from runtime.protocol import (
    DEFAULT_OUTPUT,
    InputSpec,
    build_response,
    decode_columns,
    decode_input,
    decode_inputs,
    decode_tensor,
    encode_predictions,
    error_body,
    parse_request,
)

SPECS = [InputSpec("amount", "FP64"), InputSpec("count", "INT64"), InputSpec("country", "BYTES")]


def request(*inputs, **extra):
    return parse_request({"inputs": list(inputs), **extra})


def col(name, datatype, data, shape=None):
    return {"name": name, "datatype": datatype, "shape": shape or [len(data)], "data": data}


def test_parse_keeps_id_and_parameters():
    req = parse_request(
        b'{"id": "r-1", "parameters": {"a": 1}, "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.5]}]}'
    )
    assert req.id == "r-1"
    assert req.parameters == {"a": 1}
    assert req.inputs[0].data == [1.5]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"{}", "inputs: required key is missing"),
        (b'{"inputs": []}', "inputs: list should have at least 1 item"),
        (b'{"inputs": [{"name": "x", "shape": [1], "data": [1]}]}', "inputs[0].datatype: required key is missing"),
        (b'{"inputs": [{"name": "x", "shape": "1", "datatype": "FP32", "data": [1]}]}', "inputs[0].shape"),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "extra": 1}]}', "inputs[0].extra"),
    ],
)
def test_parse_errors_name_the_field(body, fragment):
    with pytest.raises(InvalidInput) as info:
        parse_request(body)
    assert fragment in info.value.message
    assert info.value.status == 400


def test_columns_in_signature_order_with_their_dtypes():
    frame = decode_columns(
        request(
            col("country", "BYTES", ["fr", "de"]),
            col("count", "INT32", [3, 4], [2, 1]),
            col("amount", "FP32", [1.5, 2.0]),
        ),
        SPECS,
    )
    assert list(frame.columns) == ["amount", "count", "country"]
    assert frame["amount"].dtype == np.float64
    assert frame["count"].dtype == np.int64
    assert frame["country"].tolist() == ["fr", "de"]


def test_one_two_dimensional_tensor_fills_the_columns():
    specs = [InputSpec("a", "FP64"), InputSpec("b", "FP64")]
    frame = decode_columns(request(col("input-0", "FP64", [[1, 2], [3, 4], [5, 6]], [3, 2])), specs)
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"a": [1.0, 3.0, 5.0], "b": [2.0, 4.0, 6.0]}))
    flat = decode_columns(request(col("input-0", "FP64", [1, 2, 3, 4, 5, 6], [3, 2])), specs)
    pd.testing.assert_frame_equal(flat, frame)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            [col("amount", "FP64", [1.0]), col("count", "INT64", [1])],
            "Input 'country' is missing; expected inputs: amount (FP64), count (INT64), country (BYTES)",
        ),
        (
            [col("amount", "FP64", [1.0]), col("count", "FP64", [1.0]), col("country", "BYTES", ["x"])],
            "Input 'count': datatype FP64 does not match the model's signature; expected INT64",
        ),
        (
            [col("amount", "FP64", [1.0, 2.0], [1, 2]), col("count", "INT64", [1]), col("country", "BYTES", ["x"])],
            "Input 'amount': shape [1, 2] is not a column; expected [n] or [n, 1]",
        ),
        (
            [col("amount", "FP64", ["a"]), col("count", "INT64", [1]), col("country", "BYTES", ["x"])],
            "Input 'amount': FP64 data must be numbers; got 'a' at position 0",
        ),
        (
            [col("amount", "FP64", [None]), col("count", "INT64", [1]), col("country", "BYTES", ["x"])],
            "Input 'amount': null at position 0; the model's signature requires a value",
        ),
        (
            [col("amount", "FP64", [1.0, 2.0]), col("count", "INT64", [1]), col("country", "BYTES", ["x"])],
            "Input 'count' has 1 rows but input 'amount' has 2",
        ),
        (
            [col("amount", "FP64", [1.0], [2]), col("count", "INT64", [1]), col("country", "BYTES", ["x"])],
            "Input 'amount': shape [2] holds 2 values but data has 1",
        ),
        (
            [col("amount", "FP64", [1.0]), col("count", "INT64", [1]), col("country", "BYTES", [3])],
            "Input 'country': BYTES data must be strings; got 3 at position 0",
        ),
        ([col("amount", "FP64", [1.0]), col("other", "INT64", [1])], "Input 'other' is not an input of this model"),
        ([col("amount", "FP64", [1.0]), col("amount", "FP64", [1.0])], "Input 'amount' appears more than once"),
        ([col("amount", "FP64", []), col("count", "INT64", []), col("country", "BYTES", [])], "has no rows"),
        ([col("x", "FP64", [1.0, 2.0], [1, 2])], "Input 'x': shape [1, 2] has 2 columns; expected 3"),
    ],
)
def test_bad_inputs_are_named(inputs, message):
    with pytest.raises(InvalidInput) as info:
        decode_columns(request(*inputs), SPECS)
    assert message in info.value.message


def test_a_float_matrix_feeds_integer_columns_with_whole_numbers_only():
    specs = [InputSpec("a", "FP64"), InputSpec("n", "INT64")]
    frame = decode_columns(request(col("m", "FP64", [[0.5, 2.0], [1.5, 3.0]], [2, 2])), specs)
    assert frame["n"].dtype == np.int64 and frame["n"].tolist() == [2, 3]
    with pytest.raises(InvalidInput, match=r"Input 'm': column 1 \('n', INT64\) needs whole numbers; got 2.5 at row 1"):
        decode_columns(request(col("m", "FP64", [[0.5, 2.0], [1.5, 2.5]], [2, 2])), specs)


def test_nan_is_refused_unless_the_input_is_optional():
    specs = [InputSpec("a", "FP64")]
    with pytest.raises(InvalidInput, match="Input 'a': NaN at position 1"):
        decode_columns(request(col("a", "FP64", [1.0, math.nan])), specs)
    frame = decode_columns(request(col("a", "FP64", [1.0, None])), [InputSpec("a", "FP64", optional=True)])
    assert math.isnan(frame["a"].iloc[1])


@pytest.mark.parametrize(
    ("datatype", "data", "message"),
    [
        ("INT8", [300], "value 300 at position 0 is out of range for INT8 [-128, 127]"),
        ("UINT8", [-1], "value -1 at position 0 is out of range for UINT8"),
        ("INT64", [1.5], "INT64 data must be integers; got 1.5 at position 0"),
        ("BOOL", [1], "BOOL data must be true or false; got 1"),
        ("FP32", [True], "FP32 data must be numbers; got True"),
        ("FP32", [[1.0], [1.0, 2.0]], "data is nested 2 levels deep but shape [2] has 1 dimension"),
        ("FLOAT", [1.0], "unknown datatype 'FLOAT'; expected one of BOOL"),
    ],
)
def test_decode_input_checks_values(datatype, data, message):
    with pytest.raises(InvalidInput, match="Input 'x'") as info:
        decode_input("x", datatype, [len(data)], data)
    assert message in info.value.message


@pytest.mark.parametrize(
    "datatype",
    ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"],
)
def test_every_datatype_decodes_and_encodes_back(datatype):
    data = {"BOOL": [True, False, True, False], "BYTES": ["a", "b", "c", "d"]}.get(datatype, [1, 2, 3, 4])
    array = decode_input("x", datatype, [2, 2], data)
    assert array.shape == (2, 2)
    (output,) = encode_predictions({"x": array})
    assert (output.datatype, output.shape, output.data) == (datatype, [2, 2], data)


def test_decode_inputs_without_a_signature():
    arrays = decode_inputs(request(col("a", "FP32", [[1, 2], [3, 4]], [2, 2]), col("b", "BYTES", ["x", "y"])))
    assert arrays["a"].dtype == np.float32 and arrays["a"].shape == (2, 2)
    assert arrays["b"].tolist() == ["x", "y"]


def test_decode_tensor_checks_shape_against_the_signature():
    spec = InputSpec("images", "FP32", (-1, 2))
    array = decode_tensor(request(col("images", "FP64", [1, 2, 3, 4], [2, 2])), spec)
    assert array.dtype == np.float32 and array.tolist() == [[1, 2], [3, 4]]
    with pytest.raises(
        InvalidInput, match=r"Input 'images': shape \[2, 3\] does not match the model's signature; expected \[-1, 2\]"
    ):
        decode_tensor(request(col("images", "FP32", [0] * 6, [2, 3])), spec)


def test_predictions_become_named_typed_outputs():
    (plain,) = encode_predictions(np.array([0, 1, 1]))
    assert (plain.name, plain.datatype, plain.shape, plain.data) == (DEFAULT_OUTPUT, "INT64", [3], [0, 1, 1])
    (named,) = encode_predictions(np.array([[0.1, 0.9]]), names=["proba"])
    assert (named.name, named.datatype, named.shape) == ("proba", "FP64", [1, 2])
    frame = encode_predictions(pd.DataFrame({"label": ["a", "b"], "score": np.array([0.5, 0.25], dtype=np.float32)}))
    assert [(o.name, o.datatype, o.data) for o in frame] == [
        ("label", "BYTES", ["a", "b"]),
        ("score", "FP32", [0.5, 0.25]),
    ]
    (series,) = encode_predictions(pd.Series([True, False], name="fraud"))
    assert (series.name, series.datatype, series.data) == ("fraud", "BOOL", [True, False])


def test_response_echoes_id_and_parameters():
    response = build_response(
        "fraud", encode_predictions([1.0]), request_id="r-9", model_version="3", parameters={"p": 1}
    )
    body = response.model_dump(exclude_none=True)
    assert body == {
        "model_name": "fraud",
        "model_version": "3",
        "id": "r-9",
        "parameters": {"p": 1},
        "outputs": [{"name": DEFAULT_OUTPUT, "shape": [1], "datatype": "FP64", "data": [1.0]}],
    }


def test_error_body():
    assert error_body(InvalidInput("Input 'a' is missing")) == {"error": "Input 'a' is missing"}
    assert error_body("boom") == {"error": "boom"}


NARROW = [InputSpec("small", "INT32"), InputSpec("byte", "UINT8"), InputSpec("half", "FP16")]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "small",
            2**40 + 7,
            "Input 'small': value 1099511627783 at position 0 is out of range for INT32 [-2147483648, 2147483647]",
        ),
        ("byte", -1, "Input 'byte': value -1 at position 0 is out of range for UINT8 [0, 255]"),
        ("half", 1e10, "Input 'half': value 10000000000.0 at position 0 is out of range for FP16 [-65504, 65504]"),
    ],
)
def test_a_wider_type_narrowed_to_the_signature_must_fit(column, value, message):
    good = {"small": 1, "byte": 2, "half": 0.5}
    inputs = [
        col(
            s.name, "FP64" if s.name == "half" else "INT64", [good[s.name], value if s.name == column else good[s.name]]
        )
        for s in NARROW
    ]
    with pytest.raises(InvalidInput) as caught:
        decode_columns(request(*inputs), NARROW)
    assert str(caught.value).replace("at position 1", "at position 0") == message


def test_narrowing_within_range_keeps_the_values():
    frame = decode_columns(
        request(
            col("small", "INT64", [-(2**31), 2**31 - 1]),
            col("byte", "INT64", [0, 255]),
            col("half", "FP64", [65504.0, -1.5]),
        ),
        NARROW,
    )
    assert frame["small"].tolist() == [-(2**31), 2**31 - 1] and frame["byte"].tolist() == [0, 255]
    assert frame["half"].tolist() == [65504.0, -1.5] and str(frame["half"].dtype) == "float16"


def test_a_float_matrix_column_narrowed_to_its_declared_type_must_fit():
    matrix = {"name": "m", "datatype": "FP64", "shape": [1, 3], "data": [[1.0, 300.0, 0.5]]}
    with pytest.raises(
        InvalidInput, match=r"Input 'm': column 1 \('byte'\): value 300.0 at position 0 is out of range for UINT8"
    ):
        decode_columns(request(matrix), NARROW)


def test_data_sent_as_a_narrow_type_must_fit_it():
    with pytest.raises(InvalidInput, match=r"Input 'h': value 1e\+20 at position 1 is out of range for FP16"):
        decode_input("h", "FP16", [2], [1.0, 1e20])
    with pytest.raises(InvalidInput, match="out of range for UINT64"):
        decode_input("u", "UINT64", [1], [2.0**64])


def _nested(depth: int, leaf):
    data = [leaf]
    for _ in range(depth - 1):
        data = [data]
    return data


@pytest.mark.parametrize("datatype, leaf", [("BYTES", "x"), ("FP64", 1.0)])
def test_data_nested_deeper_than_the_shape_is_an_input_error(datatype, leaf):
    with pytest.raises(
        InvalidInput, match=r"Input 'deep': data is nested 1000 levels deep but shape \[1\] has 1 dimension"
    ):
        decode_input("deep", datatype, [1], _nested(1000, leaf))
    assert decode_input("ok", datatype, [1, 1, 1], _nested(3, leaf)).shape == (1, 1, 1)


def test_a_shape_with_too_many_dimensions_is_an_input_error():
    with pytest.raises(InvalidInput, match="Input 'x': shape has 100 dimensions; expected at most 32"):
        decode_input("x", "FP64", [1] * 100, [1.0])


def test_ragged_data_within_the_shapes_depth_is_an_input_error():
    with pytest.raises(InvalidInput, match="Input 'x': data is ragged"):
        decode_input("x", "FP32", [2, 2], [[1.0], [1.0, 2.0]])


AT_ONCE_SPECS = {
    datatype: [InputSpec(name, datatype) for name in ("a", "b", "c")]
    for datatype in ("FP64", "FP32", "FP16", "INT64", "INT32", "UINT8")
}
"""Signatures of one numeric datatype: what the one-conversion path of the column decoder takes."""


def _at_once_cases():
    """Requests for AT_ONCE_SPECS, taken or not by the one-conversion path: (datatype, inputs, taken)."""
    for datatype in AT_ONCE_SPECS:
        floats = datatype.startswith("FP")
        good = [0.5, 1.25] if floats else [1, 2]
        yield datatype, [col(n, datatype, good) for n in "abc"], True
        yield datatype, [col(n, datatype, good, [2, 1]) for n in "abc"], True
        yield datatype, [col(n, datatype, [3, 4]) for n in "abc"], True  # ints feed every numeric type
        for bad in (True, None, "1", 2**70, -1, 1e39, 70000, 2**63, float("nan"), [1], 0.5):
            yield (
                datatype,
                [col("a", datatype, good), col("b", datatype, [good[0], bad]), col("c", datatype, good)],
                None,
            )
        yield datatype, [col(n, datatype, good) for n in "bac"], False  # another order
        yield datatype, [col(n, datatype, good) for n in "ab"], False  # one missing
        yield datatype, [col("a", datatype, good), col("b", datatype, good[:1]), col("c", datatype, good)], False
        yield datatype, [col(n, datatype, good, [1, 2]) for n in "abc"], False  # rows, not a column
        yield (
            datatype,
            [col("a", datatype, good), {**col("b", datatype, good), "shape": []}, col("c", datatype, good)],
            False,
        )
        if floats:  # a huge whole number beside floats: rounded once, as the per-input path does
            yield (
                datatype,
                [col("a", datatype, [2**60 + 2**36 + 1, 0.5]), *(col(n, datatype, good) for n in "bc")],
                False,
            )
        other = "INT64" if floats else "FP64"
        yield datatype, [col("a", other, [1, 2]), col("b", datatype, good), col("c", datatype, good)], False


@pytest.mark.parametrize("datatype, inputs, taken", list(_at_once_cases()))
def test_columns_decoded_at_once_equal_those_decoded_one_by_one(datatype, inputs, taken):
    from runtime.protocol import codec

    specs = AT_ONCE_SPECS[datatype]
    req = request(*inputs)
    at_once = codec._columns_at_once(req.inputs, specs)
    if taken is not None:
        assert (at_once is not None) == taken
    try:
        each = codec._columns_each(req.inputs, specs)
    except InvalidInput as exc:
        assert at_once is None  # the other path answers the error, in its own words
        with pytest.raises(InvalidInput, match=re.escape(exc.message)):
            codec.decode_column_arrays(req, specs)
        return
    got = codec.decode_column_arrays(req, specs)
    assert list(got) == list(each)
    for name, column in each.items():
        assert got[name].dtype == column.dtype and got[name].shape == column.shape
        np.testing.assert_array_equal(got[name], column)
