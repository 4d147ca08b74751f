from __future__ import annotations

import random
from collections import Counter

import numpy as np

from runtime.gateway import Settings
from runtime.gateway.routing import build_policy
from runtime.gateway.routing.header import HeaderMatchPolicy
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2
from tests.runtime.gateway.test_grpc_server import grpc_client, request

TESTERS = {"policy": {"type": "headerMatch", "header": "X-Tester", "values": ["internal", "qa"], "variant": "v2"}}
DARK_CANARY = [
    {"model": "models:/m/1", "role": "primary", "weight": 100},
    {"model": "models:/m/2", "role": "canary", "weight": 0},
]


def test_matching_requests_go_to_the_named_variant_the_rest_by_weight():
    policy = build_policy("m", model_spec(routing=TESTERS), rng=random.Random(5))
    assert isinstance(policy, HeaderMatchPolicy)
    for value in ("internal", "qa"):
        assert policy.choose({"x-tester": value}, []).order == ["v2", "v1"]
    others = Counter(policy.choose(h, []).order[0] for h in [{"x-tester": "Internal"}, {"x-other": "qa"}, {}] * 2_000)
    assert 2_700 <= others["v1"] <= 3_300 and others["v1"] + others["v2"] == 6_000  # 50/50 by weight


def test_a_dark_canary_serves_only_the_matching_requests():
    policy = build_policy("m", model_spec(variants=DARK_CANARY, routing=TESTERS))
    assert policy.choose({"x-tester": "qa"}, []).order == ["v2", "v1"]
    assert {policy.choose({}, []).order[0] for _ in range(500)} == {"v1"}


async def test_testers_reach_the_dark_canary_over_rest_and_grpc(peer):
    peers = {"v1": peer(), "v2": peer()}
    spec = model_spec(variants=DARK_CANARY, routing=TESTERS)
    config = gateway_config(spec, {name: p.url for name, p in peers.items()})
    async with serve(config, Settings(grpc_port=0)) as client, grpc_client(client.app.state.grpc_port) as g:
        served = Counter()
        for i in range(40):
            headers = {"x-tester": "internal"} if i % 2 else {}
            response = await client.post("/v2/models/m/infer", json=v2([1.0]), headers=headers)
            assert response.status_code == 200, response.text
            served[("rest", bool(headers), response.headers["x-ml-serving-variant"])] += 1
            answer = await g.infer(request(np.ones(1, dtype=np.float32)), headers=tuple(headers.items()))
            served[("grpc", bool(headers), answer.model_version)] += 1
    assert served == {(t, True, "v2"): 20 for t in ("rest", "grpc")} | {(t, False, "v1"): 20 for t in ("rest", "grpc")}
