"""The binary tensor extension through the gateway: every part of the policy works on it.

Requests are built and answers read by tritonclient's own encoder and decoder; the peers read
binary bodies with KServe's decoder.
"""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import tritonclient.http as triton

from runtime.gateway import Settings
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, wait_for
from tests.runtime.gateway.test_tap import Receiver

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]


def binary_request(
    array: np.ndarray, datatype: str = "FP32", name: str = "x", **kwargs
) -> tuple[bytes, dict[str, str]]:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=True)
    body, header_length = triton.InferenceServerClient.generate_request_body([tensor], **kwargs)
    return body, {"inference-header-content-length": str(header_length), "content-type": "application/octet-stream"}


def triton_result(response: httpx.Response) -> triton.InferResult:
    assert response.status_code == 200, response.text
    length = response.headers.get("inference-header-content-length")
    return triton.InferenceServerClient.parse_response_body(
        response.content, header_length=int(length) if length else None
    )


async def test_a_binary_request_is_routed_answered_and_echoes_its_id(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url})
    body, headers = binary_request(np.arange(6, dtype=np.float32).reshape(3, 2), request_id="rid-7")
    async with serve(config) as client:
        response = await client.post("/v2/models/m/infer", content=body, headers=headers)
    result = triton_result(response)
    assert response.headers["content-type"] == "application/octet-stream"
    assert result.get_response()["id"] == "rid-7"
    assert result.as_numpy("predict").tolist() == [1.0, 5.0, 9.0]
    assert response.headers["x-ml-serving-variant"] == "v1"
    assert p.state.headers[-1]["inference-header-content-length"], "the binary body went upstream as binary"


async def test_an_output_asked_for_as_json_comes_back_as_json(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url})
    outputs = [triton.InferRequestedOutput("predict", binary_data=False)]
    body, headers = binary_request(np.ones((2, 2), dtype=np.float32), outputs=outputs)
    async with serve(config) as client:
        response = await client.post("/v2/models/m/infer", content=body, headers=headers)
    assert "inference-header-content-length" not in response.headers
    assert response.json()["outputs"][0]["data"] == [2.0, 2.0]


async def test_sticky_key_from_a_binary_input_routes_as_the_json_one(peer):
    a, b = peer(offset=0.0), peer(offset=100.0)
    spec = model_spec(routing={"policy": {"type": "sticky", "input": "user"}}, latencyBudgetMs=2000)
    config = gateway_config(spec, {"v1": a.url, "v2": b.url})
    async with serve(config) as client:
        for user in range(12):
            users = np.array([user], dtype=np.int64)
            body, headers = binary_request(users, "INT64", name="user")
            binary = await client.post("/v2/models/m/infer", content=body, headers=headers)
            plain = await client.post(
                "/v2/models/m/infer",
                json={"inputs": [{"name": "user", "shape": [1], "datatype": "INT64", "data": [user]}]},
            )
            assert binary.headers["x-ml-serving-variant"] == plain.headers["x-ml-serving-variant"], user


async def test_the_fallback_answers_in_binary_when_the_client_asked(peer):
    config = gateway_config(model_spec(variants=ONE, fallback={"value": 7}), {"v1": "http://127.0.0.1:9"})
    body, headers = binary_request(np.zeros((4, 1), dtype=np.float32))
    async with serve(config) as client:
        response = await client.post("/v2/models/m/infer", content=body, headers=headers)
    assert response.headers["x-ml-serving-variant"] == "fallback"
    assert response.headers["x-ml-serving-fallback"] == "connect"
    assert triton_result(response).as_numpy("predict").tolist() == [7, 7, 7, 7]


async def test_concurrent_binary_requests_are_coalesced_and_get_their_own_rows(peer):
    p = peer(mode="slow", delay_s=0.02)
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    rng = np.random.default_rng(3)
    arrays = [rng.integers(-50, 50, size=(int(rng.integers(1, 4)), 3)).astype(np.float32) for _ in range(60)]
    async with serve(config, Settings(coalesce=True)) as client:
        responses = await asyncio.gather(
            *(client.post("/v2/models/m/infer", content=b, headers=h) for b, h in map(binary_request, arrays))
        )
    for array, response in zip(arrays, responses):
        assert triton_result(response).as_numpy("predict").tolist() == array.sum(axis=1).tolist()
    assert p.state.calls < len(arrays) / 3, f"{p.state.calls} upstream calls for {len(arrays)} requests"


async def test_binary_requests_are_mirrored_compared_and_tapped(peer):
    primary, shadow = peer(), peer()
    spec = model_spec(
        variants=[*ONE, {"model": "models:/m/2", "role": "shadow", "mirrorPercent": 100}],
    )
    with Receiver() as receiver:
        config = gateway_config(spec, {"v1": primary.url, "v2": shadow.url}, monitor_url=receiver.url)
        async with serve(config, Settings(tap_batch_size=1, tap_flush_ms=10)) as client:
            body, headers = binary_request(np.array([[1.5, 2.5]], dtype=np.float32))
            triton_result(
                await client.post("/v2/models/m/infer", content=body, headers={**headers, "x-request-id": "t1"})
            )
            await wait_for(lambda: shadow.state.calls == 1 and receiver.batches)
            await wait_for(lambda: client.app.state.gateway.routes["m"].stats.shadows["v2"].compared == 1)
            stats = client.app.state.gateway.routes["m"].stats.shadows["v2"]
    assert stats.agreed == 1 and stats.errors == 0
    record = receiver.batches[0].records[0]
    assert record.request_id == "t1" and record.inputs == {"x": [[1.5, 2.5]]} and record.outputs == {"predict": [4.0]}


async def test_a_malformed_binary_request_is_a_400_naming_the_input(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url})
    body, headers = binary_request(np.zeros((2, 2), dtype=np.float32))
    async with serve(config) as client:
        response = await client.post("/v2/models/m/infer", content=body[:-2], headers=headers)
    assert response.status_code == 400
    assert "Input 'x': binary_data_size 16 runs past the body" in response.json()["error"]
    assert p.state.calls == 0
