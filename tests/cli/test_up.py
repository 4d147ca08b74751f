"""``ml-serving up``: its options reach the platform, which refuses a taken port before starting anything.

The platform itself is started by tests/runtime/local/test_platform.py; here nothing is started.
"""

from __future__ import annotations

import re

from tests.cli.runner import edited_stacks, local_options, ml_serving, one_line_errors


def test_a_taken_gateway_port_is_named_and_nothing_starts(tmp_path, taken_port):
    result = ml_serving("up", *local_options(tmp_path, gateway=taken_port), timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"error: port {taken_port} on 127.0.0.1 is already in use; the gateway needs it." in output, output
    assert f"state in {tmp_path / 'state'}" in output and (tmp_path / "state" / "logs").is_dir()
    assert not re.search(r"ready in [0-9]", output) and "registry:" not in output and "Traceback" not in output


def test_a_bad_stack_file_exits_2_naming_the_key_path(tmp_path):
    stacks = edited_stacks(tmp_path, "local", "latencyBudgetMs: 50\n", "latencyBudgetMs: 0\n")
    result = ml_serving("up", "--stacks-dir", str(stacks), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    (line,) = one_line_errors(result)
    assert f"{stacks}/Pulumi.local.yaml: ml-serving:models.fraud.latencyBudgetMs: " in line, line
    assert not (tmp_path / "state").exists()


def test_bad_options_exit_2_naming_what_was_expected():
    for option, value, expected in (
        ("--gateway-port", "70000", "argument --gateway-port: expected a TCP port from 1 to 65535, got '70000'"),
        ("--ready-timeout", "soon", "argument --ready-timeout: expected a number of seconds above 0, got 'soon'"),
        ("--train-rows", "0", "argument --train-rows: expected a whole number above 0, got '0'"),
    ):
        result = ml_serving("up", option, value, timeout=30)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
    result = ml_serving("up", "--stack", "nope")
    assert result.returncode == 2 and one_line_errors(result)[0].startswith("error: unknown stack 'nope'")
