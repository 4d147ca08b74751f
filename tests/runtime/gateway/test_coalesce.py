"""Coalescing: concurrent calls to one variant share an upstream request; rows never mix."""

from __future__ import annotations

import asyncio
import random

from runtime.gateway import Settings
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]


def body(rows: list[list[float]]) -> dict:
    return {"inputs": [{"name": "x", "shape": [len(rows), 2], "datatype": "FP64", "data": rows}]}


async def test_concurrent_requests_share_upstream_calls_and_get_their_own_rows(peer):
    p = peer(mode="slow", delay_s=0.02)
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    rng = random.Random(7)
    requests = [[[rng.uniform(-100, 100), float(i)] for _ in range(rng.randint(1, 5))] for i in range(120)]
    async with serve(config, Settings(coalesce=True, coalesce_max_rows=64)) as client:
        responses = await asyncio.gather(*(client.post("/v2/models/m/infer", json=body(rows)) for rows in requests))
    for rows, response in zip(requests, responses):
        assert response.status_code == 200, response.text
        assert "x-ml-serving-fallback" not in response.headers
        output = response.json()["outputs"][0]
        assert output["shape"] == [len(rows)]
        assert output["data"] == [sum(r) for r in rows], "a caller got rows that are not its own"
    assert p.state.calls < len(requests) / 3, f"{p.state.calls} upstream calls for {len(requests)} requests"


async def test_a_lone_request_goes_at_once_and_incompatible_ones_go_alone(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    async with serve(config, Settings(coalesce=True)) as client:
        lone = await client.post("/v2/models/m/infer", json=body([[1.0, 2.0]]))
        assert lone.json()["outputs"][0]["data"] == [3.0]
        wide = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [[1.0, 1.0, 1.0]]}]}
        answers = await asyncio.gather(
            *(client.post("/v2/models/m/infer", json=wide if i % 2 else body([[float(i), 0.0]])) for i in range(20))
        )
    for i, response in enumerate(answers):
        assert response.status_code == 200, response.text
        assert response.json()["outputs"][0]["data"] == ([3.0] if i % 2 else [float(i)])


async def test_one_callers_refused_rows_never_fail_the_others(peer):
    p = peer(mode="reject_negative")
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    values = [float(i) if i % 7 else -1.0 for i in range(1, 43)]
    async with serve(config, Settings(coalesce=True)) as client:
        answers = await asyncio.gather(*(client.post("/v2/models/m/infer", json=body([[v, 0.0]])) for v in values))
    for value, response in zip(values, answers):
        if value < 0:
            assert response.status_code == 400 and "negative" in response.json()["error"], response.text
        else:
            assert response.status_code == 200, response.text
            assert response.json()["outputs"][0]["data"] == [value]


async def test_requests_with_an_id_or_parameters_are_never_joined(peer):
    p = peer(mode="slow", delay_s=0.02)
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    async with serve(config, Settings(coalesce=True)) as client:
        answers = await asyncio.gather(
            *(client.post("/v2/models/m/infer", json={**body([[float(i), 0.0]]), "id": f"req-{i}"}) for i in range(30))
        )
    for i, response in enumerate(answers):
        assert response.status_code == 200, response.text
        assert response.json()["id"] == f"req-{i}", "a joined request lost its caller's id"
    assert p.state.calls == 30
