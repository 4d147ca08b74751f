"""The experiment endpoints of the real monitor app: exposures from the tap, authenticated
outcomes, the readout as JSON, HTML and metrics, and state across a restart."""

import time

import httpx
import pandas as pd
import pytest

from runtime.drift.app import create_app
from runtime.drift.profile import build_profile
from runtime.drift.settings import MonitorSettings
from runtime.experiments.routes import MAX_OUTCOME_BYTES
from runtime.wiring import INGEST_PATH, MonitorConfig


@pytest.fixture
def config(spec, tmp_path):
    profile = build_profile(pd.DataFrame({"user_id": range(200), "context": ["web", "tv"] * 100}))
    path = profile.save(tmp_path)
    profiles = {"recommender": {"popular": str(path), "als": str(path)}}
    return MonitorConfig(
        stack="test", models={"recommender": spec}, profiles=profiles, state_dir=str(tmp_path / "state")
    )


MONITOR_TOKEN = "monitor-secret"
"""The monitor's own token: the tap, outcome writers and readers all send it."""


def _app(config, **settings):
    return create_app(config, MonitorSettings(persist_interval_s=0, tokens=MONITOR_TOKEN, **settings))


async def _client(app, token: str | None = MONITOR_TOKEN):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://monitor", headers=headers)


def _served(users, variant, key_in="routingKey"):
    records = []
    for user in users:
        record = {
            "model": "recommender",
            "variant": variant,
            "requestId": f"r-{user}",
            "timestamp": time.time(),
            "inputs": {"user_id": [user]},
        }
        if key_in == "routingKey":
            record["routingKey"] = str(user)
        records.append(record)
    return {"records": records}


def _clicks(users, **extra):
    return {"outcomes": [{"kind": "click", "userId": u, "timestamp": time.time(), **extra} for u in users]}


AUTH = {"authorization": f"Bearer {MONITOR_TOKEN}"}


async def test_exposures_outcomes_and_the_readout_survive_a_restart(config):
    app = _app(config)
    async with app.router.lifespan_context(app), await _client(app) as client:
        assert (await client.post(INGEST_PATH, json=_served(range(0, 300), "popular"))).status_code == 202
        # The user id may also come from the input when the tap carries no routing key.
        assert (await client.post(INGEST_PATH, json=_served(range(300, 600), "als", key_in="input"))).status_code == 202
        answer = await client.post("/outcomes/recommender", json=_clicks(range(0, 30)), headers=AUTH)
        assert answer.status_code == 202 and answer.json() == {"joined": 30, "unknown": []}
        by_request = {
            "outcomes": [
                {"kind": "click", "requestId": f"r-{u}", "timestamp": time.time(), "value": 2.0}
                for u in range(300, 420)
            ]
            + [{"kind": "click", "userId": "stranger", "timestamp": 1.0}]
        }
        answer = await client.post("/outcomes/recommender", json=by_request, headers=AUTH)
        assert answer.json() == {"joined": 120, "unknown": ["stranger"]}
        readout = (await client.get("/experiments/recommender")).json()
        assert readout["arms"]["A"]["users"] == 300 and readout["arms"]["B"]["conversions"] == 120
        assert readout["arms"]["B"]["revenue_per_user"]["estimate"] == pytest.approx(240 / 300)
        assert readout["decision"] == "B wins" and readout["unjoined_outcomes"] == 1
        assert readout["guardrails"]["available"] is False
        html = (await client.get("/experiments/recommender/report")).text
        assert "B wins" in html and "Lift over time" in html
        metrics = (await client.get("/metrics")).text
        assert 'ml_serving_experiment_users{arm="B",model="recommender",variant="als"} 300.0' in metrics
        assert 'ml_serving_experiment_decision{decision="B wins",model="recommender"} 1.0' in metrics
    again = _app(config)
    async with again.router.lifespan_context(again), await _client(again) as client:
        restored = (await client.get("/experiments/recommender")).json()
        assert restored["arms"] == readout["arms"] and restored["history"] == readout["history"]
        # Request ids are remembered across the restart too.
        answer = await client.post(
            "/outcomes/recommender",
            json={"outcomes": [{"kind": "conversion", "requestId": "r-5", "timestamp": time.time()}]},
            headers=AUTH,
        )
        assert answer.json()["joined"] == 1


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({}, _clicks([1]), 401, "missing 'Authorization: Bearer <token>' header"),
        ({"authorization": "Bearer wrong"}, _clicks([1]), 401, "invalid bearer token"),
        (AUTH, {"outcomes": [{"kind": "click", "timestamp": 1.0}]}, 400, "needs userId or requestId"),
        (AUTH, {"outcomes": [{"kind": "purchase", "userId": "1", "timestamp": 1.0}]}, 400, "outcomes[0].kind"),
        (AUTH, {"outcomes": []}, 400, "outcomes: list should have at least 1 item"),
        (AUTH, _clicks([1], extra_field=1), 400, "outcomes[0].extra_field"),
    ],
)
async def test_bad_outcome_requests_are_refused_with_the_reason(config, headers, body, status, message):
    app = _app(config)
    async with app.router.lifespan_context(app), await _client(app, token=None) as client:
        answer = await client.post("/outcomes/recommender", json=body, headers=headers)
    assert answer.status_code == status and message in answer.json()["error"]


async def test_oversized_unknown_model_and_readers_without_the_token(config):
    app = _app(config)
    async with app.router.lifespan_context(app), await _client(app) as client:
        big = b'{"outcomes": [' + b" " * MAX_OUTCOME_BYTES + b"]}"
        answer = await client.post("/outcomes/recommender", content=big, headers=AUTH)
        assert answer.status_code == 413 and "limit" in answer.json()["error"]
        answer = await client.post("/outcomes/fraud", json=_clicks([1]), headers=AUTH)
        assert answer.status_code == 404 and "runs no experiment" in answer.json()["error"]
        assert (await client.get("/experiments/fraud")).status_code == 404
    async with app.router.lifespan_context(app), await _client(app, token=None) as client:
        for path in ("/experiments/recommender", "/experiments/recommender/report"):
            answer = await client.get(path)
            assert answer.status_code == 401 and "Authorization" in answer.json()["error"], path
