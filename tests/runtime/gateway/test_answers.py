"""An answer the gateway cannot use is never passed on as a prediction."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from runtime.gateway import Settings
from runtime.gateway.answers import checked, split
from runtime.gateway.errors import UpstreamError, UpstreamRejected
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]


@pytest.mark.parametrize("mode", ["garbage", "wrong_rows"])
@pytest.mark.parametrize("coalesce", [False, True])
async def test_garbage_or_a_wrong_number_of_rows_falls_back(peer, mode, coalesce):
    p = peer(mode=mode)
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=2000), {"v1": p.url})
    async with serve(config, Settings(coalesce=coalesce)) as client:
        answers = await asyncio.gather(
            *(client.post("/v2/models/m/infer", json=v2([float(i), 1.0])) for i in range(12))
        )
    for response in answers:
        assert response.status_code == 200, response.text
        assert response.headers["x-ml-serving-fallback"] == "bad_response"
        assert response.json()["outputs"][0]["shape"] == [2]


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
async def test_an_answer_over_the_limit_falls_back_and_counts_as_a_bad_response(peer, client):
    p = peer(mode="huge_chunked")  # 2 MB, no content-length: seen too large as it is read
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=2000), {"v1": p.url})
    async with serve(config, Settings(http_client=client, upstream_max_answer_bytes=1_000_000)) as c:
        response = await c.post("/v2/models/m/infer", json=v2([1.0]))
        metrics = (await c.get("/metrics")).text
    assert response.status_code == 200, response.text
    assert response.headers["x-ml-serving-fallback"] == "bad_response"
    assert 'ml_serving_gateway_upstream_failures_total{model="m",reason="bad_response",variant="v1"} 1.0' in metrics


def test_checked_names_what_is_wrong():
    with pytest.raises(UpstreamError, match="bad_response: output 'p' has shape \\[1\\] for 2 input rows"):
        checked(200, orjson.dumps({"outputs": [{"name": "p", "shape": [1], "data": [1]}]}), 2)
    with pytest.raises(UpstreamError, match="http_5xx"):
        checked(503, b"", 1)
    with pytest.raises(UpstreamRejected, match="bad x"):
        checked(400, b'{"error": "bad x"}', 1)
    with pytest.raises(UpstreamError, match="bad_response: HTTP 302"):
        checked(302, b"", 1)


def test_split_shares_rows_in_order_and_refuses_data_that_does_not_fill_the_shape():
    response = {
        "model_name": "m",
        "id": "first",
        "outputs": [{"name": "p", "shape": [3, 2], "datatype": "FP64", "data": [[1, 2], [3, 4], [5, 6]]}],
    }
    first, second = split(response, [1, 2])
    assert first["outputs"][0] == {"name": "p", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}
    assert second["outputs"][0]["data"] == [3, 4, 5, 6] and "id" not in second
    with pytest.raises(UpstreamError, match="does not fill its shape"):
        split({"outputs": [{"name": "p", "shape": [3], "data": [1, 2]}]}, [1, 2])
