"""Sticky A/B assignment across real gateway processes: two replicas agree on every user, a
restart changes nobody's arm, and a re-weight from 50/50 to 20/80 moves exactly the users whose
point falls between the old and the new boundary (30% of them), all in one direction."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from runtime.gateway.routing import stable_point
from tests.ports import free_port
from tests.runtime.gateway.conftest import gateway_config, model_spec
from tests.runtime.modelserver.servers import wait_ready

ROOT = Path(__file__).resolve().parents[3]
USERS = [f"user-{i}" for i in range(600)]

pytestmark = pytest.mark.slow


def _spec(weight_a: float):
    return model_spec(
        variants=[
            {"model": "models:/m/1", "role": "primary", "weight": weight_a, "name": "a"},
            {"model": "models:/m/2", "role": "canary", "weight": 100 - weight_a, "name": "b"},
        ],
        routing={"policy": {"type": "sticky", "input": "user_id", "header": "x-user-id"}},
        experiment={"minimumDetectableLift": 0.1},
        latencyBudgetMs=10_000,  # a busy machine must not turn an answer into a fallback here
    )


@contextmanager
def _gateway(config_path: Path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.gateway",
            "--config",
            str(config_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env={**os.environ, "ML_SERVING_GATEWAY_COALESCE": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, url, None, 60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _assignments(url: str) -> dict[str, str]:
    async def run() -> dict[str, str]:
        found: dict[str, str] = {}
        limit = asyncio.Semaphore(8)
        body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]}
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:

            async def one(user: str) -> None:
                async with limit:
                    response = await client.post("/v2/models/m/infer", json=body, headers={"x-user-id": user})
                assert response.status_code == 200 and not response.headers.get("x-ml-serving-fallback"), response.text
                found[user] = response.headers["x-ml-serving-variant"]

            await asyncio.gather(*(one(u) for u in USERS))
        return found

    return asyncio.run(run())


def _write(path: Path, weight_a: float, urls: dict[str, str]) -> Path:
    path.write_text(gateway_config(_spec(weight_a), urls).model_dump_json(by_alias=True))
    return path


def test_two_replicas_and_a_restart_agree_and_a_reweight_moves_only_the_boundary(tmp_path, peer):
    urls = {"a": peer(delay_s=0.0).url, "b": peer(delay_s=0.0).url}
    config = _write(tmp_path / "gateway.json", 50, urls)
    with _gateway(config) as one, _gateway(config) as two:
        first, second = _assignments(one), _assignments(two)
    assert first == second
    counts = {arm: sum(1 for v in first.values() if v == arm) for arm in "ab"}
    assert abs(counts["a"] - 300) <= 5 * math.sqrt(600 * 0.25), counts
    with _gateway(config) as restarted:
        assert _assignments(restarted) == first

    with _gateway(_write(tmp_path / "gateway.json", 20, urls)) as reweighted:
        after = _assignments(reweighted)
    moved = {u for u in USERS if after[u] != first[u]}
    assert all(first[u] == "a" and after[u] == "b" for u in moved), "users moved from b to a"
    # Exactly the users between the old boundary (50) and the new one (20) move ...
    assert moved == {u for u in USERS if 20 <= stable_point("m", u) < 50}
    # ... which is the weight change, 30% of users, within binomial noise.
    assert abs(len(moved) / len(USERS) - 0.30) <= 5 * math.sqrt(0.3 * 0.7 / len(USERS)), len(moved)
    b_before = {u for u in USERS if first[u] == "b"}
    assert b_before <= {u for u in USERS if after[u] == "b"}
