"""Promotion read from a real Prometheus scraping two gateway replicas on loopback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runtime.promote.cli import EXIT_HOLD, EXIT_PROMOTE, EXIT_ROLLBACK, main
from runtime.promote.report import render_evidence
from runtime.spec import load_stack
from tests.runtime.promote.fleet import Fleet, running_prometheus
from tests.runtime.promote.simulate import expected_intervals

ROOT = Path(__file__).resolve().parents[3]
CALLS = 10_000  # per interval, over both replicas

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("prometheus") is None, reason="Debian's prometheus is not installed (scripts/ensure-tools.sh)"
    ),
]


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", folder)
    return folder


@pytest.fixture
def fleet():
    fleet = Fleet("fraud", "v5", "v6", replicas=2, seed=5)
    yield fleet
    fleet.close()


def _canary_weight(stacks: Path) -> float:
    fraud = load_stack("staging", stacks).models["fraud"]
    return next((v.weight or 0.0 for v in fraud.live_variants if v.variant_name == "v6"), 100.0)


def _interval(fleet, prom, stacks, evidence, **traffic) -> int:  # noqa: ANN001
    fleet.serve(CALLS, _canary_weight(stacks), **traffic)
    prom.wait_scraped("fraud", fleet.answers)
    return main(
        [
            "--stack",
            "staging",
            "--stacks-dir",
            str(stacks),
            "--prometheus",
            prom.url,
            "--evidence",
            str(evidence),
            "--report",
            str(evidence.with_suffix(".html")),
        ]
    )


def test_healthy_canary_is_promoted_through_every_step_to_primary(tmp_path, stacks, fleet, capsys):
    progressive = load_stack("staging", stacks).models["fraud"].progressive
    comments = [
        line for line in (stacks / "Pulumi.staging.yaml").read_text().splitlines() if line.strip().startswith("#")
    ]
    weights, intervals = [_canary_weight(stacks)], 0
    with running_prometheus(tmp_path / "prom", {"gateway": fleet.targets}) as prom:
        while weights[-1] < 100 and intervals < 20:
            intervals += 1
            code = _interval(fleet, prom, stacks, tmp_path / "evidence.json", primary_error=0.002, canary_error=0.002)
            assert code in (EXIT_HOLD, EXIT_PROMOTE), capsys.readouterr().out
            if code == EXIT_PROMOTE:
                weights.append(_canary_weight(stacks))
                fleet.restart()
                prom.wait_scraped("fraud", 0)
    assert weights == [10, 25, 50, 100]
    assert intervals == expected_intervals(progressive, CALLS, 10)
    fraud = load_stack("staging", stacks).models["fraud"]
    assert fraud.primary.model == "models:/fraud/6" and len(fraud.live_variants) == 1
    text = (stacks / "Pulumi.staging.yaml").read_text()
    assert [line for line in text.splitlines() if line.strip().startswith("#")] == comments
    evidence = json.loads((tmp_path / "evidence.json").read_text())
    assert evidence["autoMerge"] is False  # staging does not opt in
    assert evidence["decisions"][0]["action"] == "promote"
    assert 'fraud: <span style="color:#1a7f37">promote</span>' in (tmp_path / "evidence.html").read_text()
    assert evidence["decisions"][0]["evidence"]["counts"]["canary_calls"] >= progressive.min_samples_per_step


def test_five_points_more_errors_is_rolled_back_within_one_interval_of_the_minimum_samples(
    tmp_path, stacks, fleet, capsys
):
    with running_prometheus(tmp_path / "prom", {"gateway": fleet.targets}) as prom:
        codes = []
        for _ in range(2):  # 1,000 canary calls an interval at 10%: the minimum (2,000) at the second
            codes.append(
                _interval(fleet, prom, stacks, tmp_path / "evidence.json", primary_error=0.01, canary_error=0.06)
            )
            if codes[-1] == EXIT_ROLLBACK:
                break
    assert codes[-1] == EXIT_ROLLBACK, capsys.readouterr().out
    assert _canary_weight(stacks) == 0
    assert "confidence sequence" in capsys.readouterr().out
    document = json.loads((tmp_path / "evidence.json").read_text())
    html = render_evidence(document, {"fraud": 0.01})
    assert "fraud: <span" in html and "rollback" in html and html.count("<svg") == 1
    assert "<td>canary</td>" in html


def test_thirty_percent_slower_p99_is_held_until_the_minimum_samples_then_rolled_back(tmp_path, stacks, fleet, capsys):
    with running_prometheus(tmp_path / "prom", {"gateway": fleet.targets}) as prom:
        first = _interval(
            fleet, prom, stacks, tmp_path / "evidence.json", primary_error=0.0, canary_error=0.0, canary_slowdown=1.3
        )
        assert first == EXIT_HOLD and _canary_weight(stacks) == 10
        second = _interval(
            fleet, prom, stacks, tmp_path / "evidence.json", primary_error=0.0, canary_error=0.0, canary_slowdown=1.3
        )
    assert second == EXIT_ROLLBACK, capsys.readouterr().out
    ratio = json.loads((tmp_path / "evidence.json").read_text())["decisions"][0]["evidence"]["p99Ratio"]
    assert ratio == pytest.approx(1.3, rel=0.1)


def test_unreachable_prometheus_is_a_clear_error(stacks, capsys):
    from tests.ports import free_port

    code = main(["--stack", "staging", "--stacks-dir", str(stacks), "--prometheus", f"http://127.0.0.1:{free_port()}"])
    assert code == 2
    assert "could not be reached" in capsys.readouterr().err
