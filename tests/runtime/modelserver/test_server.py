import zlib

import httpx
import numpy as np
import orjson
import pytest

from tests.runtime.modelserver.servers import features, v2_columns


def infer(server, body, name="fraud", **kwargs):
    return httpx.post(f"{server.url}/v2/models/{name}/infer", json=body, timeout=10, **kwargs)


def test_health_and_metadata_from_the_signature(batched_server):
    assert httpx.get(f"{batched_server.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{batched_server.url}/v2/health/ready").json() == {"ready": True}
    assert httpx.get(f"{batched_server.url}/v2/models/fraud/ready").status_code == 200
    metadata = httpx.get(f"{batched_server.url}/v2/models/fraud").json()
    assert metadata["name"] == "fraud"
    assert metadata["inputs"] == [
        {"name": "amount", "datatype": "FP64", "shape": [-1]},
        {"name": "count", "datatype": "INT64", "shape": [-1]},
        {"name": "score", "datatype": "FP64", "shape": [-1]},
    ]
    assert metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]


def column(name, datatype, data, shape=None):
    return {"name": name, "datatype": datatype, "shape": shape or [len(data)], "data": data}


GOOD = {
    "amount": column("amount", "FP64", [1.0]),
    "count": column("count", "INT64", [2]),
    "score": column("score", "FP64", [0.5]),
}


def with_input(**replace):
    return {
        "inputs": [replace.get(name, value) for name, value in GOOD.items() if replace.get(name, value) is not None]
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            with_input(count=None),
            "Input 'count' is missing; expected inputs: amount (FP64), count (INT64), score (FP64)",
        ),
        (
            with_input(count=column("count", "FP64", [2.5])),
            "Input 'count': datatype FP64 does not match the model's signature; expected INT64",
        ),
        (
            with_input(amount=column("amount", "FP64", [1.0, 2.0], [1, 2])),
            "Input 'amount': shape [1, 2] is not a column; expected [n] or [n, 1]",
        ),
        (
            with_input(amount=column("amount", "FP64", [1.0], [3])),
            "Input 'amount': shape [3] holds 3 values but data has 1",
        ),
        (
            with_input(score=column("score", "FP64", ["high"])),
            "Input 'score': FP64 data must be numbers; got 'high' at position 0",
        ),
        (
            with_input(score=column("score", "FP64", [None])),
            "Input 'score': null at position 0; the model's signature requires a value",
        ),
        (
            with_input(score=column("score", "BYTES", ["x"])),
            "Input 'score': datatype BYTES does not match the model's signature; expected FP64",
        ),
        ({"inputs": [{"name": "amount", "shape": [1], "data": [1]}]}, "inputs[0].datatype: required key is missing"),
        ({"rows": []}, "inputs: required key is missing"),
    ],
)
def test_bad_input_is_400_naming_the_input_and_the_server_keeps_serving(batched_server, body, message):
    response = infer(batched_server, body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert infer(batched_server, with_input()).status_code == 200


def test_nan_is_refused_where_the_signature_requires_a_value(batched_server):
    response = httpx.post(
        f"{batched_server.url}/v2/models/fraud/infer",
        content=b'{"inputs": [{"name": "amount", "datatype": "FP64", "shape": [1], "data": [NaN]}]}',
        timeout=10,
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_unknown_model_is_404(batched_server):
    response = infer(batched_server, with_input(), name="nope")
    assert response.status_code == 404
    assert response.json() == {"error": "model 'nope' is not served here; served models: fraud"}
    assert httpx.get(f"{batched_server.url}/v2/models/nope").status_code == 404


def test_a_body_over_the_limit_is_413(batched_server):
    rows = features(5000, seed=3)
    response = infer(batched_server, v2_columns(rows))
    assert response.status_code == 413
    assert "over the limit of 200000 bytes" in response.json()["error"]
    assert infer(batched_server, with_input()).status_code == 200


def test_a_coded_body_is_decoded_and_its_decoded_size_is_held_to_the_limit(batched_server):
    body = orjson.dumps(with_input())
    coded = {"content-type": "application/json", "content-encoding": "deflate", "accept-encoding": "identity"}
    response = httpx.post(f"{batched_server.url}/v2/models/fraud/infer", content=zlib.compress(body), headers=coded)
    assert response.status_code == 200, response.text
    bomb = zlib.compress(b" " * 300_000)
    refused = httpx.post(f"{batched_server.url}/v2/models/fraud/infer", content=bomb, headers=coded)
    assert refused.status_code == 413
    assert refused.json() == {
        "error": "decompressed request body (Content-Encoding: deflate) exceeds the limit of 200000 bytes "
        "(--max_body_bytes)"
    }


def test_id_echoed_parameters_passed_through_outputs_typed(batched_server, own_model):
    rows = features(3, seed=4)
    body = {**v2_columns(rows, request_id="req-42"), "parameters": {"trace": "abc"}}
    answer = infer(batched_server, body).json()
    assert answer["id"] == "req-42"
    assert answer["parameters"] == {"trace": "abc"}
    assert answer["model_version"] == "1"
    (output,) = answer["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("predict", "FP64", [3])
    np.testing.assert_array_equal(output["data"], own_model.predict(rows))


def test_batch_histograms_are_exported(batched_server):
    text = httpx.get(f"{batched_server.url}/metrics").text
    assert 'ml_serving_batch_rows_count{model="fraud"}' in text
    assert 'ml_serving_queue_wait_seconds_bucket{le="0.005",model="fraud"}' in text
