"""The monitor as a real process: killed mid-stream, restarted, its counts continue."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from runtime.wiring import INGEST_PATH
from tests.ports import free_port

from .conftest import AUTH, TOKEN, columns, make_rows, monitor_config, predict

ROOT = Path(__file__).resolve().parents[3]


def _start(config_path: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "ML_SERVING_DRIFT_PERSIST_INTERVAL_S": "0", "ML_SERVING_DRIFT_TOKENS": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.drift", "--config", str(config_path), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, stderr = proc.communicate()
            raise AssertionError(f"monitor exited: {stderr.decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    proc.communicate()
    raise AssertionError("monitor not ready within 60 s")


def _status(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/status/fraud", headers=AUTH, timeout=5).json()["variants"]["v3"]


@pytest.mark.slow
def test_killed_monitor_restarts_from_its_persisted_state(reference, tmp_path):
    config_path = tmp_path / "monitor.json"
    config_path.write_text(monitor_config(str(tmp_path / "state"), str(reference.save(tmp_path))).model_dump_json())
    port = free_port()
    proc = _start(config_path, port)
    try:
        # Without --host it listens on loopback only.
        listening = {c.laddr.ip for c in psutil.Process(proc.pid).connections("inet") if c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}, listening
        for i in range(5):
            rows = make_rows(300, seed=i)
            record = {
                "model": "fraud",
                "variant": "v3",
                "requestId": f"r{i}",
                "timestamp": time.time(),
                "inputs": columns(rows),
                "outputs": {"predict": predict(rows).tolist()},
            }
            response = httpx.post(
                f"http://127.0.0.1:{port}{INGEST_PATH}", json={"records": [record]}, headers=AUTH, timeout=10
            )
            assert response.status_code == 202
        before = _status(port)
    finally:
        proc.send_signal(signal.SIGKILL)  # no shutdown hook runs: only what was persisted survives
        proc.wait(timeout=10)
        proc.stderr.close()
    assert before["rows_seen"] == 1_500 and before["windows"] == 1 and before["window_rows"] == 500

    proc = _start(config_path, port)
    try:
        after = _status(port)
        assert (after["rows_seen"], after["windows"], after["window_rows"]) == (1_500, 1, 500)
        assert after["last"] == before["last"]
        rows = make_rows(500, seed=9)
        record = {
            "model": "fraud",
            "variant": "v3",
            "requestId": "s",
            "timestamp": time.time(),
            "inputs": columns(rows),
        }
        httpx.post(f"http://127.0.0.1:{port}{INGEST_PATH}", json={"records": [record]}, headers=AUTH, timeout=10)
        resumed = _status(port)
        assert (resumed["rows_seen"], resumed["windows"], resumed["window_rows"]) == (2_000, 2, 0)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'ml_serving_drift_windows_total{model="fraud",variant="v3"} 2.0' in metrics
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stderr.close()


def test_cli_errors_name_the_problem_without_traceback(tmp_path):
    bad = tmp_path / "monitor.json"
    bad.write_text('{"stack": "x", "models": {}, "stateDir": 3}')
    for args, expected in (
        ([], "--config: expected the path of a MonitorConfig JSON file"),
        (["--config", str(tmp_path / "none.json")], "cannot read"),
        (["--config", str(bad)], "stateDir: input should be a valid string (got 3)"),
    ):
        env = {k: v for k, v in os.environ.items() if k != "ML_SERVING_MONITOR_CONFIG"}
        result = subprocess.run(
            [sys.executable, "-m", "runtime.drift", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0 and expected in result.stderr and "Traceback" not in result.stderr
