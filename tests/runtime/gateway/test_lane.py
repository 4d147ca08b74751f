"""The gateway's lane for plain inference requests: the same answers as the whole app, and only
for requests the whole app's layers would not change."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from runtime.gateway import Settings
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]
TOKEN = {"authorization": "Bearer t1"}
RID = {"x-request-id": "r-1"}
ROWS = orjson.dumps(v2([float(i) for i in range(200)]))

CASES: list[tuple[str, str, dict[str, str], bytes]] = [
    ("JSON infer", "/v2/models/m/infer", {**TOKEN, **RID}, orjson.dumps(v2([1.0, 2.0]))),
    ("V1 predict", "/v1/models/m:predict", {**TOKEN, **RID}, orjson.dumps({"instances": [[1.0, 2.0]]})),
    (
        "binary output asked",
        "/v2/models/m/infer",
        {**TOKEN, **RID},
        orjson.dumps({**v2([1.0, 2.0]), "parameters": {"binary_data_output": True}}),
    ),
    ("bad JSON", "/v2/models/m/infer", {**TOKEN, **RID}, b"{not json"),
    ("unknown model", "/v2/models/nope/infer", {**TOKEN, **RID}, orjson.dumps(v2([1.0]))),
    ("no token", "/v2/models/m/infer", RID, orjson.dumps(v2([1.0]))),
    ("wrong token", "/v2/models/m/infer", {"authorization": "Bearer t2", **RID}, orjson.dumps(v2([1.0]))),
    ("too large", "/v2/models/m/infer", {**TOKEN, **RID}, orjson.dumps(v2([1.0] * 800))),
    ("identity coding", "/v2/models/m/infer", {**TOKEN, **RID, "content-encoding": "identity"}, b"{not json"),
    (
        "gzip answer",
        "/v2/models/m/infer",
        {**TOKEN, **RID, "accept-encoding": "gzip"},
        ROWS,
    ),
    ("identity answer", "/v2/models/m/infer", {**TOKEN, **RID, "accept-encoding": "identity"}, ROWS),
]


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "server-timing")}
    return response.status_code, headers, response.content


async def test_the_lane_answers_every_case_as_the_whole_app_does(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url})
    config = config.model_copy(update={"max_body_bytes": 2048, "auth_required": True})
    async with serve(config, Settings(tokens="t1")) as lane:
        app: FastAPI = lane.app

        async def whole(scope: Any, receive: Any, send: Any) -> None:
            await FastAPI.__call__(app, scope, receive, send)

        statuses: dict[str, int] = {}
        encodings: dict[str, str | None] = {}
        transport = httpx.ASGITransport(app=whole)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as full:
            for name, path, headers, body in CASES:
                got = await lane.post(path, content=body, headers=headers)
                want = await full.post(path, content=body, headers=headers)
                assert _comparable(got) == _comparable(want), name
                statuses[name] = got.status_code
                if "answer" in name:
                    encodings[name] = got.headers.get("content-encoding")
    assert statuses == {
        "JSON infer": 200,
        "V1 predict": 200,
        "binary output asked": 200,
        "bad JSON": 400,
        "unknown model": 404,
        "no token": 401,
        "wrong token": 401,
        "too large": 413,
        "identity coding": 400,
        "gzip answer": 200,
        "identity answer": 200,
    }
    assert encodings == {"gzip answer": "gzip", "identity answer": None}


async def test_only_inference_requests_with_uncoded_bodies_skip_the_middleware_stack(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url})
    async with serve(config) as client:
        app: FastAPI = client.app
        assert (await client.get("/v2/health/live")).status_code == 200  # builds the stack
        stack, seen = app.middleware_stack, []

        async def counting(scope: Any, receive: Any, send: Any) -> None:
            seen.append((scope["method"], scope["path"]))
            assert stack is not None
            await stack(scope, receive, send)

        app.middleware_stack = counting
        body = orjson.dumps(v2([1.0, 2.0]))
        plain = await client.post("/v2/models/m/infer", content=body, headers={"accept-encoding": "identity"})
        asks = await client.post("/v2/models/m/infer", content=ROWS, headers={"accept-encoding": "gzip"})
        predict = await client.post("/v1/models/m:predict", content=orjson.dumps({"instances": [[3.0]]}))
        assert seen == [], "an inference request with a plain body went through the middleware stack"
        zipped = gzip.compress(body)
        coded = await client.post("/v2/models/m/infer", content=zipped, headers={"content-encoding": "gzip"})
        other = await client.get("/v2/models/m/ready")
        assert seen == [("POST", "/v2/models/m/infer"), ("GET", "/v2/models/m/ready")]
    assert asks.headers["content-encoding"] == "gzip"
    assert asks.json()["outputs"][0]["data"] == [float(i) for i in range(200)]
    for response in (plain, coded):
        assert response.status_code == 200, response.text
        assert response.json()["outputs"][0]["data"] == [1.0, 2.0]
    assert predict.status_code == 200 and predict.json() == {"predictions": [3.0]}
    assert other.status_code == 200
