"""``examples/seed_registry.py`` stopped by a signal stops the MLflow server it started."""

from __future__ import annotations

import signal
import sys

import psutil
import pytest

from tests.runtime.local.stops import REPO_ROOT, clean_up, command_line, nothing_left, spawn, text, tree, wait

pytestmark = pytest.mark.slow


# One SIGTERM is the first of two; SIGHUP (a closed terminal) takes the same handler.
@pytest.mark.parametrize("signals", [(signal.SIGTERM, signal.SIGTERM), (signal.SIGHUP,)])
def test_a_stop_signal_leaves_no_registry_running(tmp_path, signals):
    output = tmp_path / "seed.log"
    seed = spawn(
        [sys.executable, str(REPO_ROOT / "examples" / "seed_registry.py"), "--stacks-dir", str(tmp_path)], output
    )
    try:
        wait(lambda: "seed registry at" in text(output), 120, "the seed registry started")
        procs = tree(seed.pid)
        servers = [p for p in procs if "mlflow" in command_line(p) and p.pid != seed.pid]
        assert servers, f"no MLflow server below the seed process: {[command_line(p) for p in procs]}"
        for sig in signals:
            seed.send_signal(sig)
        assert seed.wait(timeout=60) == 130, text(output)
        nothing_left(procs, [])
        assert "the seed registry is stopped" in text(output)
        assert not list(tmp_path.glob("models.*.lock.json")), "a lock was written by an interrupted seed run"
    finally:
        clean_up(seed)
    assert not [p for p in servers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
