"""``ml-serving promote``: hold with evidence, bad input and an unreachable Prometheus exit 2 in one line."""

from __future__ import annotations

import json

from tests.cli.runner import ml_serving, one_line_errors
from tests.ports import free_port


def test_a_stack_without_progressive_models_holds_and_writes_its_evidence(tmp_path):
    evidence = tmp_path / "evidence.json"
    prometheus = f"http://127.0.0.1:{free_port()}"
    result = ml_serving(
        "promote", "--stack", "dev", "--dry-run", "--prometheus", prometheus, "--evidence", str(evidence)
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(evidence.read_text())
    assert document["stack"] == "dev" and document["prometheus"] == prometheus
    assert document["decisions"] == [] and document["proposals"] == []


def test_an_unreachable_prometheus_exits_2_in_one_line():
    prometheus = f"http://127.0.0.1:{free_port()}"
    result = ml_serving("promote", "--stack", "local", "--dry-run", "--prometheus", prometheus)
    assert result.returncode == 2
    (line,) = one_line_errors(result)
    assert line.startswith(f"error: Prometheus at {prometheus} could not be reached ("), line


def test_bad_input_exits_2():
    result = ml_serving("promote", "--stack", "local", "--model", "nope", "--dry-run")
    assert result.returncode == 2
    (line,) = one_line_errors(result)
    assert line.startswith("error: --model nope: the stack has no such model (models: fraud, "), line
    result = ml_serving("promote", "--stack", "local", "--window-s", "-60")
    assert result.returncode == 2 and "argument --window-s: expected a number of seconds above 0" in result.stderr
