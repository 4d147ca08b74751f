"""The test peer in the mode the protocol bench runs it (``--numpy-binary``)."""

import httpx
import numpy as np
import orjson
import pytest

from tests.runtime.gateway.peers import PeerState, ThreadPeer

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
