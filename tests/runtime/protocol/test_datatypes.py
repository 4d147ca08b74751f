import numpy as np
import pytest

from runtime.protocol import DATATYPES, accepts, datatype_of, to_dtype


@pytest.mark.parametrize("datatype", list(DATATYPES))
def test_every_datatype_round_trips_through_numpy(datatype):
    assert datatype_of(to_dtype(datatype)) == datatype


def test_strings_and_objects_are_bytes():
    assert datatype_of(np.array(["a", "bc"]).dtype) == "BYTES"
    assert datatype_of(np.array([b"a"]).dtype) == "BYTES"
    assert datatype_of(np.dtype(object)) == "BYTES"


def test_unknown_datatype_is_a_key_error():
    with pytest.raises(KeyError):
        to_dtype("FLOAT")


@pytest.mark.parametrize(
    ("expected", "sent", "ok"),
    [
        ("FP64", "FP64", True),
        ("FP64", "FP32", True),
        ("FP64", "INT64", True),
        ("FP32", "UINT8", True),
        ("INT32", "INT64", True),
        ("INT64", "FP64", False),
        ("FP64", "BOOL", False),
        ("BOOL", "INT8", False),
        ("BYTES", "FP64", False),
        ("FP64", "BYTES", False),
        ("BYTES", "BYTES", True),
    ],
)
def test_accepts(expected, sent, ok):
    assert accepts(expected, sent) is ok
