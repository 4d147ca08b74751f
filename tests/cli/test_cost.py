"""``ml-serving cost``: an estimate from the snapshot prices, a diff, and bad input in one line."""

from __future__ import annotations

import json

from tests.cli.runner import ml_serving, one_line_errors


def test_the_estimate_of_a_stack_and_the_diff_against_itself(tmp_path):
    result = ml_serving("cost", "--stack", "dev", "--prices", "snapshot", "--format", "json", timeout=240)
    assert result.returncode == 0, result.stderr
    estimate = json.loads(result.stdout)
    (tmp_path / "dev.json").write_text(result.stdout)
    assert estimate["stack"] == "dev" and estimate["items"], sorted(estimate)
    diff = ml_serving("cost", "--diff", str(tmp_path / "dev.json"), str(tmp_path / "dev.json"), "--format", "json")
    assert diff.returncode == 0, diff.stderr
    assert json.loads(diff.stdout)["stack"] == "dev"


def test_an_estimate_file_that_is_not_json_is_bad_input(tmp_path):
    broken = tmp_path / "base.json"
    broken.write_text("[1, 2")
    result = ml_serving("cost", "--diff", str(broken), str(broken))
    assert result.returncode == 2
    (line,) = one_line_errors(result)
    assert line.startswith(f"error: {broken}: expected an estimate written by "), line


def test_cost_needs_a_stack_a_diff_or_a_refresh():
    result = ml_serving("cost", "--format", "json")
    assert result.returncode == 2
    assert "one of the arguments --stack --diff --refresh-prices is required" in result.stderr
    result = ml_serving("cost", "--stack", "nope")
    assert result.returncode == 2 and one_line_errors(result)[0].startswith("error: unknown stack 'nope'")
