"""``python -m runtime.registry``: the shipped locks match their stacks; errors exit 2 without traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime.registry", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod"])
def test_shipped_lock_pins_every_uri_of_its_stack(stack):
    result = run("check", "--stack", stack)
    assert result.returncode == 0, result.stderr
    assert f"models.{stack}.lock.json pins every model URI of stack '{stack}'" in result.stdout


def test_check_refuses_a_stale_lock_without_traceback(tmp_path):
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", tmp_path)
    lock = json.loads((ROOT / "stacks" / "models.dev.lock.json").read_text())
    lock["stackUris"].append("models:/fraud/1")
    lock["versions"]["models:/fraud/1"] = {
        **lock["versions"]["models:/fraud/4"],
        "uri": "models:/fraud/1",
        "version": 1,
    }
    (tmp_path / "models.dev.lock.json").write_text(json.dumps(lock))
    result = run("check", "--stack", "dev", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: stack 'dev': models.dev.lock.json is older than the stack file (it was locked for models:/fraud/1, "
    )
    assert "run `ml-serving lock --stack dev`" in result.stderr and "Traceback" not in result.stderr


def test_unknown_stack_exits_2():
    result = run("check", "--stack", "nope")
    assert result.returncode == 2
    assert "error: unknown stack 'nope'" in result.stderr and "Traceback" not in result.stderr
