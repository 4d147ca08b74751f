from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from runtime.gateway.__main__ import main
from tests.ports import free_port
from tests.runtime.gateway.conftest import gateway_config, model_spec
from tests.runtime.modelserver.servers import wait_ready

ROOT = Path(__file__).resolve().parents[3]


def test_bad_config_exits_2_with_a_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ML_SERVING_GATEWAY_CONFIG", raising=False)
    assert main([]) == 2
    assert "--config" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the gateway config" in capsys.readouterr().err
    bad = tmp_path / "gateway.json"
    bad.write_text(json.dumps({"stack": "x", "models": {}, "endpoints": {}, "maxBodyBytes": 0}))
    assert main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: maxBodyBytes: ") and "greater than 0" in err


def test_serves_from_a_config_file(tmp_path, peer):
    p = peer()
    spec = model_spec(variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}])
    config = tmp_path / "gateway.json"
    config.write_text(
        gateway_config(spec, {"v1": p.url}).model_copy(update={"auth_required": True}).model_dump_json(by_alias=True)
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime.gateway", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "ML_SERVING_GATEWAY_CONFIG": str(config), "ML_SERVING_GATEWAY_TOKENS": "t1,t2"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(process, url, None, 30)
        body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [4.0]}]}
        assert httpx.post(f"{url}/v2/models/m/infer", json=body).status_code == 401
        ok = httpx.post(f"{url}/v2/models/m/infer", json=body, headers={"authorization": "Bearer t2"})
        assert ok.status_code == 200 and ok.json()["outputs"][0]["data"] == [4.0]
        _idle_connection_is_kept(port)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _live_on(conn: socket.socket) -> None:
    conn.sendall(b"GET /v2/health/live HTTP/1.1\r\nhost: gateway\r\n\r\n")
    answer = b""
    while not answer.endswith(b'{"live":true}'):
        chunk = conn.recv(4096)
        assert chunk, f"the gateway closed the connection; read {answer!r}"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer


def _idle_connection_is_kept(port: int) -> None:
    """A connection idle past uvicorn's 5 s default is still served: pooled clients reuse it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        _live_on(conn)
        # The gateway closing the connection would make it readable (end of stream).
        readable, _, _ = select.select([conn], [], [], 6.5)
        assert not readable, "the gateway closed a connection idle for less than 6.5 s"
        _live_on(conn)
