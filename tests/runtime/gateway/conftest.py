"""Fixtures: real V2 peers on loopback and a gateway in front of them (in-process ASGI)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from runtime.gateway import Settings, create_app
from runtime.spec import ModelSpec
from runtime.wiring import GatewayConfig, VariantEndpoint
from tests.runtime.gateway.peers import PeerState, ThreadPeer


@pytest.fixture
def peer() -> Iterator[Callable[..., ThreadPeer]]:
    """Start real V2 peers: ``peer(mode="answer", **state)``; all stop at teardown."""
    started: list[ThreadPeer] = []

    def start(**state: Any) -> ThreadPeer:
        p = ThreadPeer(PeerState(**state)).start()
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def primary_and_canary(canary_weight: int) -> list[dict[str, Any]]:
    """Variants v1 (primary) and v2 (canary), the canary taking ``canary_weight`` percent."""
    return [
        {"model": "models:/m/1", "role": "primary", "weight": 100 - canary_weight},
        {"model": "models:/m/2", "role": "canary", "weight": canary_weight},
    ]


def model_spec(**overrides: Any) -> ModelSpec:
    """A model spec (camelCase keys, as in a stack file) with a primary v1 and canary v2.

    The budget is long: where a test is about something else, a slow moment of a loaded machine
    must not turn its answer into the fallback. Tests of the budget set their own."""
    doc: dict[str, Any] = {
        "variants": primary_and_canary(50),
        "latencyBudgetMs": 5000,
        "fallback": {"value": 0},
    }
    doc.update(overrides)
    return ModelSpec.model_validate(doc)


def gateway_config(spec: ModelSpec, urls: dict[str, str], model: str = "m", **extra: Any) -> GatewayConfig:
    endpoints = {name: VariantEndpoint(url=url, model_name=model) for name, url in urls.items()}
    return GatewayConfig(stack="test", models={model: spec}, endpoints={model: endpoints}, auth_required=False, **extra)


@asynccontextmanager
async def serve(config: GatewayConfig, settings: Settings | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app, started (lifespan), behind an in-process httpx client."""
    app = create_app(config, settings or Settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def v2(values: list[float], name: str = "x", **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": name, "shape": [len(values)], "datatype": "FP64", "data": values}], **extra}


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until ``predicate()`` holds, failing the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
