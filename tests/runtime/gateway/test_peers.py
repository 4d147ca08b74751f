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


def test_the_peer_process_answers_the_same_sums_over_grpc_and_stops_on_sigterm():
    """bench/protocols.py calls the peer straight over both transports: the two must agree."""
    import signal
    import subprocess
    import sys
    import time

    import grpc
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

    from tests.ports import free_port

    http, grpc_port = free_port(), free_port()
    command = [sys.executable, "-m", "tests.runtime.gateway.peers", "--port", str(http), "--numpy-binary"]
    process = subprocess.Popen([*command, "--grpc-port", str(grpc_port)])
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        request = pb.ModelInferRequest(model_name="image", id="r-7", raw_input_contents=[ROWS.tobytes()])
        request.inputs.add(name="x", datatype="FP32", shape=list(ROWS.shape))
        answer = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=10)
        assert (answer.id, answer.outputs[0].name, list(answer.outputs[0].shape)) == ("r-7", "predict", [2])
        assert np.frombuffer(answer.raw_output_contents[0], dtype=np.float64).tolist() == [-12.0, 24.0]
        deadline = time.monotonic() + 30
        while True:  # the REST side is up once gRPC is, but not necessarily accepting yet
            try:
                as_json = httpx.post(
                    f"http://127.0.0.1:{http}/v2/models/image/infer",
                    content=orjson.dumps(
                        {
                            "inputs": [
                                {"name": "x", "shape": [2, 2, 3], "datatype": "FP32", "data": ROWS.ravel().tolist()}
                            ]
                        }
                    ),
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the peer's REST port never opened"
                time.sleep(0.05)
        assert _sums(as_json) == [-12.0, 24.0]
        with pytest.raises(grpc.RpcError) as raw_only:  # JSON-typed contents are not what it reads
            typed = pb.ModelInferRequest(model_name="image")
            typed.inputs.add(name="x", datatype="FP32", shape=[1]).contents.fp32_contents.append(1.0)
            pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(typed, timeout=10)
        assert raw_only.value.code() == grpc.StatusCode.UNIMPLEMENTED
        channel.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) is not None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
