"""Drift monitor capacity: ``/ingest`` over HTTP with the gateway's own tap batches.

    .venv/bin/python bench/drift_ingest.py [--senders 1,4,8] [--seconds 15] [--gateway-rps N]

Starts the real monitor (``python -m runtime.drift``, bearer token on, loopback) on CPU 1 with a
reference profile of the gateway benchmark's model (3 features, one prediction), and sends it,
from CPU 0, what gateway replicas' taps send: each record is made by the gateway's ``DriftTap``
from a served single-row V2 request (its serialization, its batch framing, 256 records per
POST, its bearer header). Each sender is one tap posting its next batch as soon as the last one
was taken (closed loop: the monitor's capacity, not a chosen rate). Reports rows/s sustained,
ingest latency per POST, and the monitor's RSS sampled every 0.5 s (first and second half, so
growth shows). Then: how many gateway replicas at concurrency 32 one monitor keeps up with, from
the gateway's req/s (``--gateway-rps``, or what bench/gateway.py last wrote to
.bench/gateway/results.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.processes import adopt_orphans, on_signals, pinned, say, stop_all, stop_tree  # noqa: E402
from runtime.drift.profile import build_profile  # noqa: E402
from runtime.gateway.metrics import GatewayMetrics  # noqa: E402
from runtime.gateway.tap import DriftTap  # noqa: E402
from runtime.wiring import INGEST_PATH, MonitorConfig  # noqa: E402
from tests.ports import free_port  # noqa: E402
from tests.runtime.modelserver.servers import features  # noqa: E402

WORK = REPO / ".bench" / "drift-ingest"
BATCH = 256
"""Records per POST: the tap's default ``tap_batch_size``."""


def tap_bodies(url: str, token: str, count: int) -> tuple[list[bytes], dict[str, str]]:
    """``count`` batch bodies as the gateway's tap builds them from served single-row requests."""
    rows = features(count * BATCH, seed=7)
    tap = DriftTap(url, GatewayMetrics(), queue_size=count * BATCH, batch_size=BATCH, token=token)
    for i, row in enumerate(rows.itertuples(index=False)):
        inputs = [
            {"name": "amount", "shape": [1], "datatype": "FP64", "data": [float(row.amount)]},
            {"name": "count", "shape": [1], "datatype": "INT64", "data": [int(row.count)]},
            {"name": "score", "shape": [1], "datatype": "FP64", "data": [float(row.score)]},
        ]
        outputs = [{"name": "predict", "shape": [1], "datatype": "FP64", "data": [float(row.amount) * 0.1]}]
        tap.offer("fraud", "v1", f"req-{i}", inputs, outputs)
    # The tap's own framing of what it queued (DriftTap._send), batch by batch.
    bodies = [b'{"records":[' + b",".join(tap._take_ready(BATCH, 1 << 30)) + b"]}" for _ in range(count)]
    return bodies, tap._headers


def start_monitor(token: str) -> tuple[subprocess.Popen, str]:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    reference = features(20_000, seed=1)
    profile = build_profile(reference, {"predict": reference["amount"].to_numpy() * 0.1}, sample_size=5_000)
    spec = {
        "variants": [{"model": "models:/fraud/1", "role": "primary", "weight": 100}],
        "latencyBudgetMs": 50,
        "drift": {"windowRows": 5_000, "pValue": 0.01, "driftShare": 0.3},
    }
    config = MonitorConfig.model_validate(
        {
            "stack": "bench",
            "models": {"fraud": spec},
            "profiles": {"fraud": {"v1": str(profile.save(WORK))}},
            "stateDir": str(WORK / "state"),
        }
    )
    path = WORK / "monitor.json"
    path.write_text(config.model_dump_json(by_alias=True))
    port = free_port()
    log = (WORK / "monitor.log").open("w")
    command = [sys.executable, "-m", "runtime.drift", "--config", str(path), "--port", str(port)]
    process = subprocess.Popen(
        pinned("1", command), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "ML_SERVING_DRIFT_TOKENS": token},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the monitor exited with {process.returncode}; see {WORK / 'monitor.log'}")
        try:
            import httpx

            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_tree(process)
    raise SystemExit(f"the monitor was not ready within 120 s; see {WORK / 'monitor.log'}")


async def send(url: str, bodies: list[bytes], headers: dict[str, str], senders: int, seconds: float) -> dict:
    """``senders`` taps posting back to back for ``seconds``: rows taken, per-POST latency, refusals."""
    latencies: list[float] = []
    refused = 0
    rows = 0
    end = time.monotonic() + seconds

    async def one(k: int, session: aiohttp.ClientSession) -> None:
        nonlocal refused, rows
        i = k
        while time.monotonic() < end:
            t0 = time.monotonic()
            async with session.post(url + INGEST_PATH, data=bodies[i % len(bodies)], headers=headers) as response:
                await response.read()
                if response.status == 202:
                    rows += BATCH
                else:
                    refused += 1
            latencies.append((time.monotonic() - t0) * 1000)
            i += senders

    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(one(k, session) for k in range(senders)))
    elapsed = time.monotonic() - started
    a = np.asarray(latencies)
    return {
        "senders": senders,
        "rowsPerS": rows / elapsed,
        "posts": int(a.size),
        "refused": refused,
        "p50Ms": float(np.percentile(a, 50)),
        "p99Ms": float(np.percentile(a, 99)),
    }


def sampled_rss(pid: int, stop: asyncio.Event, out: list[float]) -> asyncio.Task:
    async def sample() -> None:
        process = psutil.Process(pid)
        while not stop.is_set():
            out.append(process.memory_info().rss / 2**20)
            await asyncio.sleep(0.5)

    return asyncio.get_running_loop().create_task(sample())


async def run(url: str, pid: int, bodies: list[bytes], headers: dict[str, str], senders: list[int], seconds: float):
    results = []
    for n in senders:
        await send(url, bodies, headers, n, 1.0)  # warm-up: connections, the monitor's first window
        rss: list[float] = []
        stop = asyncio.Event()
        sampler = sampled_rss(pid, stop, rss)
        say(f"{n} sender(s), {seconds:g} s ...")
        before = psutil.Process(pid).cpu_times()
        result = await send(url, bodies, headers, n, seconds)
        after = psutil.Process(pid).cpu_times()
        cpu_s = (after.user - before.user) + (after.system - before.system)
        # Rows per second of the monitor's own CPU: what one dedicated core takes, whatever else
        # the shared machine was running meanwhile.
        result["rowsPerCpuS"] = result["rowsPerS"] * seconds / cpu_s if cpu_s > 0 else 0.0
        stop.set()
        await sampler
        half = len(rss) // 2
        result.update(
            rssFirstHalfMaxMb=max(rss[:half] or rss),
            rssSecondHalfMaxMb=max(rss[half:] or rss),
            rssEndMb=rss[-1],
        )
        say(f"  {result['rowsPerS']:.0f} rows/s, p99 {result['p99Ms']:.1f} ms per POST, RSS {rss[-1]:.0f} MB")
        results.append(result)
    return results


def gateway_rps(given: float | None) -> tuple[float | None, str]:
    if given is not None:
        return given, "--gateway-rps"
    path = REPO / ".bench" / "gateway" / "results.json"
    try:
        return float(json.loads(path.read_text())["gatewayRpsAt32"]), str(path.relative_to(REPO))
    except (OSError, KeyError, ValueError):
        return None, "none (run bench/gateway.py first, or pass --gateway-rps)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", default="1,4,8", help="concurrent taps, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of load per sender count")
    parser.add_argument("--gateway-rps", type=float, default=None, help="one gateway replica's req/s at concurrency 32")
    args = parser.parse_args()
    adopt_orphans()
    on_signals()
    token = secrets.token_hex(16)
    monitor = None
    try:
        monitor, url = start_monitor(token)
        bodies, headers = tap_bodies(url, token, 64)
        start_rss = psutil.Process(monitor.pid).memory_info().rss / 2**20
        senders = [int(n) for n in args.senders.split(",")]
        results = asyncio.run(run(url, monitor.pid, bodies, headers, senders, args.seconds))
    finally:
        if monitor is not None:
            stop_tree(monitor)
        stop_all()
    report(results, start_rss, *gateway_rps(args.gateway_rps), len(bodies[0]))
    return 0


def report(results: list[dict], start_rss: float, rps: float | None, source: str, body_bytes: int) -> None:
    print(
        f"\nDrift monitor /ingest on CPU 1, taps on CPU 0; {BATCH} single-row records per POST ({body_bytes:,} B);"
        f" RSS {start_rss:.0f} MB before load; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
    )
    print(
        "| senders | rows/s | rows per monitor CPU-s | POST p50 ms | POST p99 ms | refused"
        " | RSS max 1st half MB | RSS max 2nd half MB |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['senders']} | {r['rowsPerS']:,.0f} | {r['rowsPerCpuS']:,.0f} | {r['p50Ms']:.1f} | {r['p99Ms']:.1f} | {r['refused']} |"
            f" {r['rssFirstHalfMaxMb']:.0f} | {r['rssSecondHalfMaxMb']:.0f} |"
        )
    best = max(r["rowsPerS"] for r in results)
    per_core = max(r["rowsPerCpuS"] for r in results)
    print(f"\nsustained: {best:,.0f} rows/s (best sender count); {per_core:,.0f} rows per second of the monitor's CPU")
    if rps:
        for what, rows in (("as measured", best), ("on a dedicated core (rows per CPU-s)", per_core)):
            replicas = rows / rps
            verdict = "met" if replicas >= 10 else "NOT met"
            print(
                f"one gateway replica at concurrency 32: {rps:,.0f} req/s ({source}); one monitor, {what},"
                f" keeps up with {replicas:.1f} replicas (target >= 10: {verdict})"
            )
    else:
        print(f"gateway req/s at concurrency 32: {source}")


if __name__ == "__main__":
    sys.exit(main())
