"""``ml-serving check``: schemas, deployability and policies from one render; exit 0, 1 or 2."""

from __future__ import annotations

import re

from tests.cli.runner import edited_stacks, ml_serving, one_line_errors


def test_the_local_stack_passes_all_three_checks():
    result = ml_serving("check", "--stack", "local", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.count("rendering offline") == 1  # one render for the three checks
    assert re.search(r"^local: \d+ objects valid; ", result.stderr, re.M)  # schemas
    assert re.search(r"^local: deployability over \d+ resources: 0 error\(s\)", result.stderr, re.M)
    assert re.search(r"^local: \d+ rules over \d+ resources .*: \d+ violation\(s\), 0 mandatory$", result.stderr, re.M)
    assert result.stderr.rstrip().endswith("local: schemas, deployability, policies: passed")
    assert "[error]" not in result.stdout and "[mandatory]" not in result.stdout


def test_a_mandatory_violation_fails_the_check_with_exit_1(tmp_path):
    old = '{model: "models:/fraud/5", role: primary, weight: 90}\n        - {model: "models:/fraud/6", role: canary, weight: 10}'
    new = '{model: "models:/fraud/5", role: primary, weight: 40}\n        - {model: "models:/fraud/6", role: canary, weight: 60}'
    stacks = edited_stacks(tmp_path, "prod", old, new)
    result = ml_serving("check", "--stack", "prod", "--stacks-dir", str(stacks), "--only", "policies", timeout=240)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[mandatory] canary-weight-max: " in result.stdout and "objects valid" not in result.stderr
    assert one_line_errors(result) == []


def test_a_bad_stack_file_exits_2_before_any_check_runs(tmp_path):
    stacks = edited_stacks(tmp_path, "local", "latencyBudgetMs: 50\n", "latencyBudgetMs: fast\n")
    result = ml_serving("check", "--stack", "local", "--stacks-dir", str(stacks))
    assert result.returncode == 2 and result.stdout == ""
    (line,) = one_line_errors(result)
    assert f"{stacks}/Pulumi.local.yaml: ml-serving:models.fraud.latencyBudgetMs: " in line, line


def test_a_pack_config_that_is_not_json_is_bad_input(tmp_path):
    config = tmp_path / "levels.json"
    config.write_text("{not json")
    result = ml_serving("check", "--stack", "local", "--policy-config", str(config), timeout=240)
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert "rendering offline" not in result.stderr  # refused before the render
    (line,) = one_line_errors(result)
    assert line.startswith(f"error: {config}: not valid JSON: "), line


def test_an_unknown_check_or_stack_exits_2():
    result = ml_serving("check", "--stack", "local", "--only", "lint")
    assert result.returncode == 2 and "argument --only: invalid choice: 'lint'" in result.stderr
    result = ml_serving("check", "--stack", "nope")
    assert result.returncode == 2 and one_line_errors(result)[0].startswith("error: unknown stack 'nope'")
