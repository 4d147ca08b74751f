"""The deployability check passes on every shipped stack; the lock rule; the CLI on a mutated stack."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from components.deployability import check_render, lock_registry
from runtime.registry.lock import read_lock
from runtime.spec import load_stack
from tests.components.renders import ROOT, STACKS, stack_renders


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_passes(stack):
    found = check_render(stack_renders()[stack], load_stack(stack), read_lock(stack))
    assert not [str(f) for f in found if not f.warning], stack
    # The shipped locks are stand-ins and say so on every run.
    assert [f.rule for f in found if f.warning] == ["lock-registry"], [str(f) for f in found]


def test_a_lock_from_another_registry_fails_unless_marked_as_a_stand_in():
    spec, lock = load_stack("prod"), read_lock("prod")
    unmarked = lock.model_copy(update={"stand_in": None})
    (error,) = lock_registry(spec, unmarked)
    assert (
        not error.warning and lock.tracking_uri in error.message and spec.platform.mlflow.tracking_uri in error.message
    )
    assert "ml-serving lock --stack prod" in error.message
    (warning,) = lock_registry(spec, lock)
    assert warning.warning and warning.message.startswith("stand-in lock")
    assert lock_registry(spec, unmarked.model_copy(update={"tracking_uri": spec.platform.mlflow.tracking_uri})) == []


def test_the_command_fails_on_a_stack_whose_gpu_group_starts_with_a_small_instance(tmp_path):
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks)
    prod = stacks / "Pulumi.prod.yaml"
    prod.write_text(
        prod.read_text().replace("instanceTypes: [g5.2xlarge, g6.2xlarge]", "instanceTypes: [g5.xlarge, g5.2xlarge]")
    )
    run = subprocess.run(
        [sys.executable, "-m", "components.deployability", "--stack", "prod", "--stacks-dir", str(stacks)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 1, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("[error]")]
    assert len(lines) == 2 and all("g5.xlarge offers" in line and "vision-" in line for line in lines), run.stdout
    assert "2 error(s), 1 warning(s)" in run.stderr, run.stderr


def test_the_command_exits_2_without_a_traceback_on_an_unknown_stack():
    run = subprocess.run(
        [sys.executable, "-m", "components.deployability", "--stack", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr and "nope" in run.stderr, run.stderr
