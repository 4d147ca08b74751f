"""The test peer in the mode the protocol bench runs it (``--numpy-binary``)."""

import httpx
import numpy as np
import orjson
import pytest

from tests.runtime.gateway.peers import PeerState, ThreadPeer, _body

ROWS = np.arange(12, dtype=np.float32).reshape(2, 2, 3) - 4.5  # per row: -12.0 and 24.0


@pytest.fixture
def numpy_peer():
    peer = ThreadPeer(PeerState(name="image", numpy_binary=True)).start()
    yield peer
    peer.stop()


def _sums(response: httpx.Response) -> list[float]:
    assert response.status_code == 200, response.text
    return response.json()["outputs"][0]["data"]


def test_json_and_binary_bodies_get_the_same_row_sums(numpy_peer):
    tensor = {"name": "x", "shape": [2, 2, 3], "datatype": "FP32"}
    url = numpy_peer.url + "/v2/models/image/infer"
    as_json = httpx.post(url, content=orjson.dumps({"inputs": [{**tensor, "data": ROWS.ravel().tolist()}]}))
    head = orjson.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": ROWS.nbytes}}]})
    as_binary = httpx.post(
        url,
        content=head + ROWS.tobytes(),
        headers={"inference-header-content-length": str(len(head)), "content-type": "application/octet-stream"},
    )
    assert _sums(as_json) == _sums(as_binary) == [-12.0, 24.0]


def test_in_numpy_mode_both_bodies_hold_arrays_and_binary_tensors_are_read_in_place():
    tensor = {"name": "x", "shape": [2, 2, 3], "datatype": "FP32"}
    as_json = _body(orjson.dumps({"inputs": [{**tensor, "data": ROWS.ravel().tolist()}]}), None, numpy_binary=True)
    head = orjson.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": ROWS.nbytes}}]})
    raw = head + ROWS.tobytes()
    as_binary = _body(raw, str(len(head)), numpy_binary=True)
    for document in (as_json, as_binary):
        data = document["inputs"][0]["data"]
        assert isinstance(data, np.ndarray) and data.dtype == np.float32, type(data)
        np.testing.assert_array_equal(data, ROWS.ravel())
    assert np.shares_memory(as_binary["inputs"][0]["data"], np.frombuffer(raw, dtype=np.uint8)), "a copy, not a view"
    # Without numpy mode, KServe's decoder builds lists: the mode is what the bench's figures rest on.
    assert not isinstance(_body(raw, str(len(head)))["inputs"][0]["data"], np.ndarray)
