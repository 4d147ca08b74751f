import asyncio
import signal
import time

import httpx
import pytest

from runtime.modelserver.app import main
from tests.runtime.modelserver.servers import start_server
from tests.runtime.modelserver.slow_model import save_slow_model


def in_flight(url: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith('ml_serving_infer_in_flight{model="slow"}'):
            return float(line.split()[-1])
    return 0.0


async def sigterm_while_queued(server, count: int):
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        bodies = [
            {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1], "data": [float(i)]}]} for i in range(count)
        ]
        requests = [asyncio.create_task(client.post("/v2/models/slow/infer", json=b)) for b in bodies]
        deadline = time.monotonic() + 20
        while await asyncio.to_thread(in_flight, server.url) < count:
            assert time.monotonic() < deadline, "requests never all reached the server"
            await asyncio.sleep(0.02)
        server.process.send_signal(signal.SIGTERM)
        return await asyncio.gather(*requests)


def test_sigterm_finishes_queued_requests_then_exits(tmp_path):
    model_dir = tmp_path / "slow"
    save_slow_model(model_dir)
    server = start_server(
        ["--model_name", "slow", "--model_dir", str(model_dir), "--max_batch_size", "4", "--max_latency_ms", "50"],
        tmp_path / "server.log",
    )
    try:
        responses = asyncio.run(sigterm_while_queued(server, 10))
        assert [r.status_code for r in responses] == [200] * 10
        assert [r.json()["outputs"][0]["data"] for r in responses] == [[2.0 * i] for i in range(10)]
        assert server.process.wait(timeout=30) == 0, server.output()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/v2/health/ready", timeout=2)
    finally:
        server.stop()


def test_bad_settings_exit_2_naming_the_setting(capsys):
    assert main(["--model_name", "m", "--model_dir", "/mnt/models", "--max_batch_size", "8"]) == 2
    assert "batching needs both max_batch_size and max_latency_ms" in capsys.readouterr().err
    assert main(["--model_dir", "/mnt/models"]) == 2
    assert "model_name: required key is missing" in capsys.readouterr().err


def test_a_missing_model_exits_1_without_a_traceback(tmp_path, capsys):
    assert main(["--model_name", "m", "--model_dir", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert f"error: no MLflow model in '{tmp_path / 'none'}'" in err
    assert "Traceback" not in err
