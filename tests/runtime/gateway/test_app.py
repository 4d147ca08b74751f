"""The HTTP front: bad input, V1 predict, metadata, readiness, metrics."""

from __future__ import annotations

import gzip

import orjson
import pytest

from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]


@pytest.fixture
async def client(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url}).model_copy(update={"max_body_bytes": 2048})
    async with serve(config) as c:
        c.peer = p
        yield c


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [NaN]}]}', 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"inputs": []}', 400, "inputs"),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64"}]}', 400, "inputs[0].data"),
        (
            b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FLOAT", "data": [1]}]}',
            400,
            "Input 'x': unknown datatype 'FLOAT'",
        ),
        (
            b'{"inputs": [{"name": "x", "shape": [3], "datatype": "FP64", "data": [1, 2]}]}',
            400,
            "Input 'x': shape [3] holds 3 values but data has 2",
        ),
        (
            b'{"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": ["a"]}]}',
            400,
            "Input 'x': INT64 data must be numbers",
        ),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [null]}]}', 400, "Input 'x'"),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}], "extra": 1}', 400, "extra"),
        (
            b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}, {"name": "x", "shape": [1], "datatype": "FP64", "data": [2]}]}',
            400,
            "Input 'x' appears more than once",
        ),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [1e30]}]}', 400, "Input 'x'"),
        (
            b'{"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [3000000000]}]}',
            400,
            "out of range for INT32",
        ),
        (b'{"inputs": [{"name": "x", "shape": [-1], "datatype": "FP64", "data": []}]}', 400, "negative dimension"),
        (
            b'{"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": '
            + b"[" * 900
            + b'"a"'
            + b"]" * 900
            + b"}]}",
            400,
            "Input 'x': data is nested 900 levels deep",
        ),
    ],
)
async def test_bad_v2_input_is_400_naming_the_field(client, body, status, needle):
    response = await client.post("/v2/models/m/infer", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert needle in response.json()["error"]
    assert client.peer.state.calls == 0


async def test_unknown_model_is_404_and_names_the_served_ones(client):
    response = await client.post("/v2/models/nope/infer", json=v2([1.0]))
    assert response.status_code == 404
    assert response.json() == {"error": "model 'nope' is not served by this gateway; served models: m"}
    assert (await client.get("/no/such/path")).json() == {
        "error": "GET /no/such/path: no such route; the gateway's API is GET /openapi.json"
    }
    wrong = await client.get("/v2/models/m/infer")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST", wrong.text
    assert wrong.json() == {
        "error": "GET /v2/models/m/infer: method not allowed; the gateway's API is GET /openapi.json"
    }


async def test_server_metadata_names_the_gateway_and_the_extension_it_serves(client):
    response = await client.get("/v2")  # tritonclient's get_server_metadata(); open, as health is
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "ml-serving-gateway" and body["extensions"] == ["binary_tensor_data"], body
    assert body["version"] and body["version"] != "unknown", body


async def test_oversized_body_is_413_declared_or_streamed(client):
    big = v2([1.0] * 500)
    response = await client.post("/v2/models/m/infer", json=big)
    assert response.status_code == 413
    assert "bytes is over the limit of 2048 bytes (maxBodyBytes)" in response.json()["error"]

    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    streamed = await client.post("/v2/models/m/infer", content=chunks())
    assert streamed.status_code == 413
    assert "bytes or more is over the limit of 2048 bytes (maxBodyBytes)" in streamed.json()["error"]
    ok = await client.post("/v2/models/m/infer", json=v2([2.0]))
    assert ok.status_code == 200, "the gateway keeps serving after bad input"


async def test_a_gzip_binary_request_reaches_the_model_decoded_and_a_bomb_is_413(client):
    import numpy as np

    from runtime.protocol.binary import HEADER_LENGTH

    header = orjson.dumps(
        {"inputs": [{"name": "x", "shape": [3], "datatype": "FP64", "parameters": {"binary_data_size": 24}}]}
    )
    body = header + np.array([1.0, 2.0, 4.0]).tobytes()
    coded = {"content-encoding": "gzip", HEADER_LENGTH: str(len(header)), "content-type": "application/octet-stream"}
    response = await client.post("/v2/models/m/infer", content=gzip.compress(body), headers=coded)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == [1.0, 2.0, 4.0]
    assert client.peer.state.calls == 1

    bomb = gzip.compress(b" " * 100_000)
    refused = await client.post("/v2/models/m/infer", content=bomb, headers={"content-encoding": "gzip"})
    assert refused.status_code == 413
    assert refused.json() == {
        "error": "decompressed request body (Content-Encoding: gzip) exceeds the limit of 2048 bytes (maxBodyBytes)"
    }
    corrupt = await client.post("/v2/models/m/infer", content=gzip.compress(body)[:-20], headers=coded)
    assert corrupt.status_code == 400 and "Content-Encoding: gzip" in corrupt.json()["error"]
    unknown = await client.post("/v2/models/m/infer", content=body, headers={"content-encoding": "br"})
    assert unknown.status_code == 400 and unknown.json()["error"].startswith("Content-Encoding 'br' is not supported")
    assert client.peer.state.calls == 1, "refused bodies never reach a model"


async def test_v1_predict(client):
    rows = await client.post("/v1/models/m:predict", json={"instances": [[1.0, 2.0], [3.0, 4.0]]})
    assert rows.status_code == 200, rows.text
    assert rows.json() == {"predictions": [3.0, 7.0]}
    assert rows.headers["x-ml-serving-variant"] == "v1"
    objects = await client.post("/v1/models/m:predict", json={"instances": [{"a": 2}, {"a": 5}]})
    assert objects.json() == {"predictions": [2.0, 5.0]}
    bad = await client.post("/v1/models/m:predict", json={"instances": [{"a": 1}, {"b": 2}]})
    assert bad.status_code == 400 and "instances[1]" in bad.json()["error"]
    empty = await client.post("/v1/models/m:predict", json={"rows": []})
    assert empty.status_code == 400 and "instances" in empty.json()["error"]


async def test_metadata_and_readiness(client):
    meta = (await client.get("/v2/models/m")).json()
    assert meta["name"] == "m" and meta["versions"] == ["v1"]
    assert meta["inputs"] == [{"name": "x", "datatype": "FP64", "shape": [-1]}]
    ready = await client.get("/v2/models/m/ready")
    assert ready.status_code == 200 and ready.json() == {"name": "m", "ready": True}


async def test_unready_model_without_fallback():
    config = gateway_config(model_spec(variants=ONE, fallback=None), {"v1": "http://127.0.0.1:9"})
    async with serve(config) as c:
        ready = await c.get("/v2/models/m/ready")
    assert ready.status_code == 503 and ready.json()["ready"] is False


async def test_metrics_count_requests_and_latency(client):
    for _ in range(3):
        await client.post("/v2/models/m/infer", json=v2([1.0]))
    text = (await client.get("/metrics")).text
    assert 'ml_serving_gateway_requests_total{model="m",outcome="ok",variant="v1"} 3.0' in text
    assert 'ml_serving_gateway_request_duration_seconds_count{model="m",variant="v1"} 3.0' in text
    assert 'ml_serving_gateway_breaker_state{model="m",variant="v1"} 0.0' in text
