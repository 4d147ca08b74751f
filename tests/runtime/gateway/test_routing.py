from __future__ import annotations

import hashlib
import math
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

from runtime.gateway.routing import build_policy, stable_point
from runtime.gateway.routing.sticky import StickyPolicy, routing_key
from runtime.gateway.routing.weighted import WeightedPolicy
from runtime.spec import StickyRoutingSpec
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


STICKY = {"policy": {"type": "sticky", "input": "user_id", "header": "x-user-id"}}


def _by_header(policy, key: str) -> str:
    return policy.choose({"x-user-id": key}, []).order[0]


def test_the_factory_builds_the_declared_policy():
    assert isinstance(build_policy("m", model_spec()), WeightedPolicy)
    assert isinstance(build_policy("m", model_spec(routing=STICKY)), StickyPolicy)


def test_weights_hold_within_statistical_tolerance():
    policy = build_policy("m", model_spec(variants=THREE_WAY), rng=random.Random(7))
    n = 20_000
    choices = [policy.choose({"x-user-id": "ignored"}, []) for _ in range(n)]
    _within(Counter(c.order[0] for c in choices), {"v1": 70, "v2": 20, "v3": 10}, n)
    assert all(c.key is None for c in choices)


def test_sticky_keys_spread_by_weight_and_never_move():
    policy = build_policy("m", model_spec(variants=THREE_WAY, routing=STICKY))
    keys = [f"user-{i}" for i in range(20_000)]
    first = [_by_header(policy, k) for k in keys]
    _within(Counter(first), {"v1": 70, "v2": 20, "v3": 10}, len(keys))
    assert [_by_header(policy, k) for k in keys] == first
    assert _by_header(build_policy("m", model_spec(variants=THREE_WAY, routing=STICKY)), "user-1") == first[1]


def test_a_sticky_key_lands_where_its_sha256_point_falls_on_the_cumulative_weights():
    # The assignment every replica, restart and earlier release made: users must not move.
    policy = build_policy("m", model_spec(variants=THREE_WAY, routing=STICKY))
    for i in range(2_000):
        digest = hashlib.sha256(f"m\x00user-{i}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64 * 100
        expected = "v1" if point < 70 else "v2" if point < 90 else "v3"
        choice = policy.choose({"x-user-id": f"user-{i}"}, [])
        assert choice.order[0] == expected and choice.key == f"user-{i}"


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
    policy = build_policy("m", model_spec(variants=[*THREE_WAY[:1], {**THREE_WAY[1], "weight": 30}], routing=STICKY))
    orders = {tuple(_choose_order(policy, f"k{i}")) for i in range(200)}
    assert orders == {("v1", "v2"), ("v2", "v1")}
    three = build_policy("m", model_spec(variants=THREE_WAY), rng=random.Random(3))
    assert {tuple(three.choose({}, []).order) for _ in range(300)} == {
        ("v1", "v2", "v3"),
        ("v2", "v1", "v3"),
        ("v3", "v1", "v2"),
    }


def _choose_order(policy, key: str) -> list[str]:
    return policy.choose({"x-user-id": key}, []).order


def test_routing_key_header_wins_over_input():
    settings = StickyRoutingSpec(type="sticky", input="user_id", header="x-user-id")
    inputs = [{"name": "user_id", "shape": [2, 1], "data": [["u7"], ["u8"]]}]
    assert routing_key(settings, {"x-user-id": "h1"}, inputs) == "h1"
    assert routing_key(settings, {}, inputs) == "u7"
    assert routing_key(settings, {}, [{"name": "other", "data": [1]}]) is None
    assert build_policy("m", model_spec()).choose({"x-user-id": "h1"}, inputs).key is None


async def test_gateway_weights_and_sticky_users_through_real_peers(peer):
    peers = {"v1": peer(), "v2": peer()}
    spec = model_spec(
        variants=[
            {"model": "models:/m/1", "role": "primary", "weight": 70},
            {"model": "models:/m/2", "role": "canary", "weight": 30},
        ],
        routing=STICKY,
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
