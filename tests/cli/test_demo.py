"""``ml-serving demo``: it starts the platform it needs with the options given; bad input exits 2."""

from __future__ import annotations

from tests.cli.runner import local_options, ml_serving, one_line_errors


def test_the_demo_starts_its_platform_with_the_given_ports(tmp_path, taken_port):
    # The gateway port is free, so no platform runs there: the demo starts one, which finds its
    # MLflow port taken before starting anything.
    result = ml_serving("demo", *local_options(tmp_path, mlflow=taken_port), "--demo-seconds", "5", timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"error: port {taken_port} on 127.0.0.1 is already in use; the mlflow needs it." in output, output
    assert "using the platform already running" not in output and "Traceback" not in output


def test_bad_input_exits_2():
    result = ml_serving("demo", "--demo-seconds", "0", timeout=30)
    assert result.returncode == 2
    assert "argument --demo-seconds: expected a number of seconds above 0, got '0'" in result.stderr
    result = ml_serving("demo", "--stack", "nope")
    assert result.returncode == 2 and one_line_errors(result)[0].startswith("error: unknown stack 'nope'")
