"""Serving processes settle their heap before serving, so a full collection walks little."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.gateway.__main__ import YOUNG_COLLECTION_AT
from tests.runtime.drift.conftest import monitor_config
from tests.runtime.gateway.conftest import gateway_config, model_spec

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter (freezing pytest's own heap would keep every later test's cycles): the
# entry point runs up to serving, where uvicorn.run reports what a full collection would have
# to walk then, and whether a cycle made after start-up is still collected.
PROBE = """
import gc, importlib, json, sys, time
import uvicorn
main = importlib.import_module(sys.argv.pop(1)).main

def report(app, **_):
    walked = len(gc.get_objects())
    started = time.perf_counter()
    gc.collect()
    full_ms = (time.perf_counter() - started) * 1000
    cycle = []
    cycle.append(cycle)
    del cycle
    print(json.dumps({"frozen": gc.get_freeze_count(), "walked": walked, "fullMs": full_ms, "freed": gc.collect(),
                  "young": gc.get_threshold()[0]}))

uvicorn.run = report
sys.exit(main(sys.argv[1:]))
"""


def _gateway(tmp_path: Path) -> Path:
    spec = model_spec(variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}])
    config = tmp_path / "gateway.json"
    config.write_text(gateway_config(spec, {"v1": "http://127.0.0.1:9"}).model_dump_json(by_alias=True))
    return config


def _monitor(tmp_path: Path) -> Path:
    config = tmp_path / "monitor.json"
    config.write_text(monitor_config(str(tmp_path / "state")).model_dump_json(by_alias=True))
    return config


@pytest.mark.parametrize(
    ("entry_point", "write_config", "env", "young"),
    [
        ("runtime.gateway.__main__", _gateway, {}, YOUNG_COLLECTION_AT),
        ("runtime.drift.__main__", _monitor, {"ML_SERVING_DRIFT_TOKENS": "t"}, 700),
    ],
    ids=["gateway", "drift-monitor"],
)
def test_entry_point_freezes_start_up_objects_out_of_the_collector(
    tmp_path, monkeypatch, entry_point, write_config, env, young
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, entry_point, "--config", str(write_config(tmp_path)), "--host", "127.0.0.1",
         "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    found = json.loads(out.stdout.strip().splitlines()[-1])
    # Start-up leaves ~10^5 objects (FastAPI, pydantic, numpy, aiohttp, pandas, scipy); none is
    # left for the collector to walk on every full collection, and new garbage is still collected.
    assert found["frozen"] > 50_000, found
    assert found["walked"] < found["frozen"] / 100, found
    assert found["freed"] >= 1, found
    # The gateway's requests leave no cycles: its young generation is collected seldom (runtime/heap.py).
    assert found["young"] == young, found
