"""The A/B outcome guardrail read from a real Prometheus: it scrapes the gateway replicas and the
drift monitor's own experiment collector, fed served requests and click events."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, start_http_server

from runtime.drift.settings import MonitorSettings
from runtime.experiments.routes import ExperimentCollector, OutcomeEvent
from runtime.experiments.service import ExperimentService
from runtime.promote.cli import EXIT_HOLD, EXIT_ROLLBACK, main
from runtime.spec import load_stack
from runtime.wiring import MonitorConfig, TapRecord
from tests.runtime.local.stops import wait
from tests.runtime.promote.fleet import Fleet, running_prometheus

ROOT = Path(__file__).resolve().parents[3]
USERS = 2_000  # per arm

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("prometheus") is None, reason="Debian's prometheus is not installed (scripts/ensure-tools.sh)"
    ),
]

_EXPERIMENT = "      experiment: {outcome: click, minimumDetectableLift: 0.05}\n"


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", folder)
    stack = folder / "Pulumi.staging.yaml"
    text = stack.read_text()
    assert _EXPERIMENT in text
    # The recommender's canary moves by measurements too; its steps need more calls than served here.
    stack.write_text(
        text.replace(_EXPERIMENT, _EXPERIMENT + "      progressive: {steps: [75, 100], minSamplesPerStep: 100000}\n")
    )
    return folder


def _experiment(state: Path, stacks: Path, rates: dict[str, float]):  # noqa: ANN202
    """The drift monitor's experiment service with ``USERS`` users per arm, clicking at ``rates``."""
    spec = load_stack("staging", stacks).models["recommender"]
    config = MonitorConfig(stack="staging", models={"recommender": spec}, profiles={}, state_dir=str(state))
    service = ExperimentService(config, MonitorSettings(tokens="t"))
    now = time.time()
    clicks = []
    for arm, rate in rates.items():
        records = [
            TapRecord(
                model="recommender",
                variant=arm,
                request_id=f"{arm}-{i}",
                timestamp=now,
                inputs={"user_id": [f"{arm}-user-{i}"]},
            )
            for i in range(USERS)
        ]
        assert service.expose(records) == USERS
        clicks += [
            OutcomeEvent(kind="click", user_id=f"{arm}-user-{i}", timestamp=now) for i in range(round(USERS * rate))
        ]
    assert service.outcomes("recommender", clicks)[0] == len(clicks)
    registry = CollectorRegistry()
    registry.register(ExperimentCollector(service))
    return start_http_server(0, addr="127.0.0.1", registry=registry)


def _promote(tmp_path: Path, stacks: Path, rates: dict[str, float]) -> tuple[int, dict]:
    fleet = Fleet("recommender", "popular", "als", replicas=2, seed=3)
    server, thread = _experiment(tmp_path / "state", stacks, rates)
    try:
        fleet.serve(4_000, 50, primary_error=0.0, canary_error=0.0)
        targets = {"gateway": fleet.targets, "drift-monitor": [f"127.0.0.1:{server.server_port}"]}
        with running_prometheus(tmp_path / "prom", targets) as prom:
            prom.wait_scraped("recommender", fleet.answers)
            query = 'sum(ml_serving_experiment_users{model="recommender"}) or vector(0)'
            wait(lambda: prom.value(query) == 2 * USERS, 30, "Prometheus did not hold the experiment's users")
            evidence = tmp_path / "evidence.json"
            code = main(
                ["--stack", "staging", "--stacks-dir", str(stacks), "--model", "recommender"]
                + ["--prometheus", prom.url, "--evidence", str(evidence)]
            )
        return code, json.loads(evidence.read_text())["decisions"][0]
    finally:
        server.shutdown()
        server.server_close()
        fleet.close()


def _weights(stacks: Path) -> dict[str, float | None]:
    return {v.variant_name: v.weight for v in load_stack("staging", stacks).models["recommender"].live_variants}


def test_a_canary_losing_the_ab_outcome_is_rolled_back_from_the_fleets_metrics(tmp_path, stacks):
    code, decision = _promote(tmp_path, stacks, {"popular": 0.20, "als": 0.10})
    assert code == EXIT_ROLLBACK and decision["action"] == "rollback", decision
    assert decision["evidence"]["counts"]["canary_users"] == USERS
    assert decision["evidence"]["counts"]["canary_conversions"] == USERS * 0.10
    assert decision["evidence"]["outcomeDifference"] == pytest.approx(-0.10)
    assert decision["evidence"]["outcomeConfidenceSequence"][1] < 0
    assert any("outcome rate is lower" in r for r in decision["reasons"]), decision["reasons"]
    assert _weights(stacks) == {"popular": 100, "als": 0}


def test_an_even_ab_outcome_leaves_the_canary_to_the_other_guardrails(tmp_path, stacks):
    code, decision = _promote(tmp_path, stacks, {"popular": 0.20, "als": 0.20})
    assert code == EXIT_HOLD and decision["action"] == "hold", decision
    low, high = decision["evidence"]["outcomeConfidenceSequence"]
    assert low < 0 < high
    assert _weights(stacks) == {"popular": 50, "als": 50}
