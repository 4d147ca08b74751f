from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

from runtime.gateway.routing import Router, routing_key, stable_point
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2

ROOT = Path(__file__).resolve().parents[3]

THREE_WAY = [
    {"model": "models:/m/1", "role": "primary", "weight": 70},
    {"model": "models:/m/2", "role": "canary", "weight": 20},
    {"model": "models:/m/3", "role": "canary", "weight": 10},
]


def _within(counts: Counter, weights: dict[str, float], n: int, sigmas: float = 5.0) -> None:
    for name, weight in weights.items():
        p = weight / 100
        tolerance = sigmas * math.sqrt(n * p * (1 - p))
        assert abs(counts[name] - n * p) <= tolerance, (
            f"{name}: {counts[name]} of {n}, expected {n * p:.0f} ± {tolerance:.0f}"
        )


def test_weights_hold_within_statistical_tolerance():
    router = Router("m", model_spec(variants=THREE_WAY), rng=random.Random(7))
    n = 20_000
    _within(Counter(router.choose() for _ in range(n)), {"v1": 70, "v2": 20, "v3": 10}, n)


def test_sticky_keys_spread_by_weight_and_never_move():
    router = Router("m", model_spec(variants=THREE_WAY))
    keys = [f"user-{i}" for i in range(20_000)]
    first = [router.choose(k) for k in keys]
    _within(Counter(first), {"v1": 70, "v2": 20, "v3": 10}, len(keys))
    assert [router.choose(k) for k in keys] == first
    assert Router("m", model_spec(variants=THREE_WAY)).order("user-1")[0] == first[1]


def test_stable_point_is_identical_across_processes():
    # Another interpreter with another hash seed must place keys exactly where this one does.
    code = (
        "from runtime.gateway.routing import stable_point; print(repr([stable_point('m', f'k{i}') for i in range(5)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.strip() == repr([stable_point("m", f"k{i}") for i in range(5)])
    assert all(0 <= stable_point("m", f"k{i}") < 100 for i in range(100))


def test_order_puts_the_chosen_variant_first_then_the_primary():
    router = Router("m", model_spec(variants=[*THREE_WAY[:1], {**THREE_WAY[1], "weight": 30}]))
    orders = {tuple(router.order(f"k{i}")) for i in range(200)}
    assert orders == {("v1", "v2"), ("v2", "v1")}


def test_routing_key_header_wins_over_input():
    spec = model_spec(routing={"stickyKey": "user_id", "stickyHeader": "x-user-id"})
    inputs = [{"name": "user_id", "shape": [2, 1], "data": [["u7"], ["u8"]]}]
    assert routing_key(spec, {"x-user-id": "h1"}, inputs) == "h1"
    assert routing_key(spec, {}, inputs) == "u7"
    assert routing_key(spec, {}, [{"name": "other", "data": [1]}]) is None
    assert routing_key(model_spec(), {"x-user-id": "h1"}, inputs) is None


async def test_gateway_weights_and_sticky_users_through_real_peers(peer):
    peers = {"v1": peer(), "v2": peer()}
    spec = model_spec(
        variants=[
            {"model": "models:/m/1", "role": "primary", "weight": 70},
            {"model": "models:/m/2", "role": "canary", "weight": 30},
        ],
        routing={"stickyKey": "user_id", "stickyHeader": "x-user-id"},
    )
    async with serve(gateway_config(spec, {name: p.url for name, p in peers.items()})) as client:
        n = 300
        seen = Counter()
        for _ in range(n):
            response = await client.post("/v2/models/m/infer", json=v2([1.0]))
            seen[response.headers["x-ml-serving-variant"]] += 1
        _within(seen, {"v1": 70, "v2": 30}, n)
        pinned = {}
        for user in range(20):
            for _ in range(3):
                by_header = await client.post("/v2/models/m/infer", json=v2([1.0]), headers={"x-user-id": f"u{user}"})
                pinned.setdefault(f"u{user}", set()).add(by_header.headers["x-ml-serving-variant"])
            body = {
                "inputs": [
                    {"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]},
                    {"name": "user_id", "shape": [1], "datatype": "BYTES", "data": [f"u{user}"]},
                ]
            }
            by_input = await client.post("/v2/models/m/infer", json=body)
            pinned[f"u{user}"].add(by_input.headers["x-ml-serving-variant"])
    assert all(len(variants) == 1 for variants in pinned.values()), pinned
    assert {next(iter(v)) for v in pinned.values()} == {"v1", "v2"}
