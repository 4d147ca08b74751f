"""The gateway process settles its heap before serving, so a full collection walks little."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.runtime.gateway.conftest import gateway_config, model_spec

ROOT = Path(__file__).resolve().parents[3]

# A fresh interpreter (freezing pytest's own heap would keep every later test's cycles): the
# gateway's entry point runs up to serving, where uvicorn.run reports what a full collection
# would have to walk then, and whether a cycle made after start-up is still collected.
PROBE = """
import gc, json, sys, time
import uvicorn
from runtime.gateway.__main__ import main

def report(app, **_):
    walked = len(gc.get_objects())
    started = time.perf_counter()
    gc.collect()
    full_ms = (time.perf_counter() - started) * 1000
    cycle = []
    cycle.append(cycle)
    del cycle
    print(json.dumps({"frozen": gc.get_freeze_count(), "walked": walked, "fullMs": full_ms, "freed": gc.collect()}))

uvicorn.run = report
sys.exit(main(sys.argv[1:]))
"""


def test_entry_point_freezes_start_up_objects_out_of_the_collector(tmp_path):
    spec = model_spec(variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}])
    config = tmp_path / "gateway.json"
    config.write_text(gateway_config(spec, {"v1": "http://127.0.0.1:9"}).model_dump_json(by_alias=True))
    out = subprocess.run(
        [sys.executable, "-c", PROBE, "--config", str(config), "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    # Start-up leaves ~10^5 objects (FastAPI, pydantic, numpy, aiohttp); none is left for the
    # collector to walk on every full collection, and new garbage is still collected.
    assert found["frozen"] > 50_000, found
    assert found["walked"] < found["frozen"] / 100, found
    assert found["freed"] >= 1, found
