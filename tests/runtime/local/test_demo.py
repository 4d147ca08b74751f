"""The demo's replay and read-out, against a small real HTTP peer standing in for gateway and monitor."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime.experiments import ExperimentStore, build_readout, look
from runtime.gateway.routing import build_policy
from runtime.local.demo import run_demo
from runtime.local.layout import Layout, LocalSettings
from runtime.recommend import TasteWorld
from runtime.spec import load_stack


def _peer() -> Starlette:
    """Answers like the gateway (v1, v2, and a fallback every tenth) and flags drift like the monitor."""
    seen: dict[str, Any] = {"requests": 0, "rows": 0, "first": 0.0, "status_auth": set()}

    async def infer(request: Request) -> JSONResponse:
        body = await request.json()
        rows = body["inputs"][0]["shape"][0]
        seen["first"] = seen["first"] or time.monotonic()
        seen["requests"] += 1
        seen["rows"] += rows
        n = seen["requests"]
        variant = "fallback" if n % 10 == 0 else ("v2" if n % 10 == 5 else "v1")
        headers = {"x-ml-serving-variant": variant}
        if variant == "fallback":
            headers["x-ml-serving-fallback"] = "timeout"
        outputs = [{"name": "predict", "datatype": "INT64", "shape": [rows], "data": [0] * rows}]
        return JSONResponse({"model_name": "fraud", "model_version": variant, "outputs": outputs}, headers=headers)

    async def status(request: Request) -> JSONResponse:
        seen["status_auth"].add(request.headers.get("authorization"))
        # Drift shows up once the demo's second (drifted) phase has run for a moment.
        drifted = seen["rows"] > 150 and time.monotonic() - seen["first"] > 3.5
        last = {"dataset_drifted": drifted, "features": [{"name": "amount", "drifted": drifted}]}
        return JSONResponse({"variants": {"v1": {"rows_seen": seen["rows"], "windows": 1, "last": last}}})

    async def report(request: Request) -> JSONResponse:
        shadow = {"variant": "v3", "agreement": 0.9, "compared": 10, "errors": 0, "dropped": 0}
        return JSONResponse({"shadows": [shadow]})

    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({"ready": True})

    async def classify(request: Request) -> JSONResponse:
        # Every image is a "3"; after the first phase the camera changes and the monitor notices.
        images = (await request.json())["inputs"][0]
        assert images["datatype"] == "BYTES" and all(isinstance(v, str) for v in images["data"])
        seen["images"] = seen.get("images", 0) + images["shape"][0]
        seen["vision_first"] = seen.get("vision_first") or time.monotonic()
        outputs = [{"name": "class", "datatype": "BYTES", "shape": images["shape"], "data": ["3"] * images["shape"][0]}]
        return JSONResponse({"model_name": "vision", "outputs": outputs}, headers={"x-ml-serving-variant": "v1"})

    async def vision_status(request: Request) -> JSONResponse:
        drifted = time.monotonic() - seen.get("vision_first", time.monotonic()) > 2.5
        last = {"dataset_drifted": drifted, "features": [{"name": "brightness", "drifted": drifted}]}
        return JSONResponse({"variants": {"v1": {"rows_seen": seen.get("images", 0), "windows": 1, "last": last}}})

    app = Starlette(
        routes=[
            *_recommender_routes(seen),
            Route("/v2/models/fraud/infer", infer, methods=["POST"]),
            Route("/status/fraud", status),
            Route("/rollouts/fraud/report", report),
            Route("/v2/health/ready", ready),
            Route("/v2/models/vision/infer", classify, methods=["POST"]),
            Route("/status/vision", vision_status),
            Route("/rollouts/vision/report", report),
        ]
    )
    app.state.seen = seen
    return app


def _recommender_routes(seen: dict) -> list[Route]:
    """The recommender as gateway and monitor together: sticky arms by the gateway's own router,
    lists from the ground truth (B: each user's truly best items, A: the most popular), and the
    real experiment store and readout behind ``/outcomes`` and ``/experiments``."""
    spec = load_stack("local").models["recommender"]
    policy, world = build_policy("recommender", spec), TasteWorld.generate(seed=0)
    assert spec.arms is not None, "the local stack's recommender runs an experiment"
    store = ExperimentStore(spec.arms)
    popular = np.argsort(-world.popularity)[:10]

    async def infer(request: Request) -> JSONResponse:
        inputs = (await request.json())["inputs"]
        user = inputs[0]["data"][0]
        variant = policy.choose(request.headers, inputs).order[0]
        items = np.argsort(-world.affinity(np.array([user])))[0, :10] if variant == "als" else popular
        store.expose(str(user), variant, f"r{user}", (50, 50))
        outputs = [{"name": "items", "datatype": "INT64", "shape": [1, 10], "data": items.tolist()}]
        return JSONResponse({"outputs": outputs}, headers={"x-ml-serving-variant": variant, "x-request-id": f"r{user}"})

    async def outcomes(request: Request) -> JSONResponse:
        seen.setdefault("experiment_auth", set()).add(request.headers.get("authorization"))
        for event in (await request.json())["outcomes"]:
            store.outcome(event["kind"], event["userId"], event["requestId"], event["value"])
        look(store, spec)
        return JSONResponse({"joined": 0, "unknown": []}, status_code=202)

    async def readout(request: Request) -> JSONResponse:
        seen.setdefault("experiment_auth", set()).add(request.headers.get("authorization"))
        return JSONResponse(build_readout("recommender", spec, store))

    return [
        Route("/v2/models/recommender/infer", infer, methods=["POST"]),
        Route("/outcomes/recommender", outcomes, methods=["POST"]),
        Route("/experiments/recommender", readout),
    ]


@pytest.fixture
def peer(free_port):
    port = free_port()
    app = _peer()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the peer did not start"
        time.sleep(0.02)
    yield port, app.state.seen
    server.should_exit = True
    thread.join(timeout=10)


def test_demo_prints_split_fallbacks_shadow_agreement_and_the_drift_moment(peer, tmp_path, capsys) -> None:
    peer_port, seen = peer
    settings = LocalSettings(state_dir=tmp_path, gateway_port=peer_port, monitor_port=peer_port)
    layout = Layout.resolve(load_stack("local"), settings)
    assert run_demo(layout, seconds=6) == 0
    out = capsys.readouterr().out
    assert f"using the platform already running at http://127.0.0.1:{peer_port}" in out
    assert "phase 1: normal traffic for 3 s" in out and "phase 2: drifted traffic for 3 s" in out
    split = next(line for line in out.splitlines() if "canary split" in line)
    assert "v1 89%" in split or "v1 88%" in split or "v1 90%" in split, split
    assert "fallbacks           " in out and "(timeout " in out
    assert "shadow v3           agreement 90.0% over 10 compared" in out
    assert "drift flagged       at t=" in out and "after the drift began; drifted: amount" in out
    assert f"drift report        http://127.0.0.1:{peer_port}/report/fraud" in out
    assert "failed requests" not in out
    assert seen["status_auth"] == {f"Bearer {(tmp_path / 'monitor-token').read_text()}"}, "the monitor's token"
    assert "A/B test of recommender: A = popular, B = als, sticky by user" in out
    assert "ground truth" in out and "als is better" in out
    assert "readout             B wins" in out
    decided = next(line for line in out.splitlines() if "decided after" in line)
    assert int(decided.split()[2]) < 2000, decided
    assert f"readout report      http://127.0.0.1:{peer_port}/experiments/recommender/report" in out
    assert seen["experiment_auth"] == seen["status_auth"], "outcomes and readouts carry the monitor's token"
    assert "vision phase 1: as trained images" in out and "vision phase 3: rotated images" in out
    accuracy = next(line for line in out.splitlines() if "accuracy as trained" in line)
    assert "of " in accuracy and "n/a" not in accuracy, accuracy  # one digit in ten is a 3
    assert "drift flagged       at t=" in out.split("vision (vision):")[1]
    assert f"drift report        http://127.0.0.1:{peer_port}/report/vision" in out
