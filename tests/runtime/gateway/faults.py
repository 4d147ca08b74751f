"""Fault injection on loopback: a misbehaving V2 peer process, the real gateway process in front
of it, and a concurrent load driver that records every answer.

Used by ``tests/runtime/gateway/test_faults.py`` and ``bench/chaos.py``. The peer is
``python -m tests.runtime.gateway.peers`` (its modes are the faults; ``POST /control`` switches
them while it runs); the gateway is ``python -m runtime.gateway`` with a ``GatewayConfig`` file.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

from runtime.spec import ModelSpec
from runtime.wiring import GatewayConfig, VariantEndpoint
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Process:
    process: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start(
    command: list[str], url: str, ready: str, log: Path, env: dict[str, str] | None = None, timeout_s: float = 60
) -> Process:
    """Start ``command`` and return once ``url + ready`` answers 200 (raise with its log if not)."""
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    proc = Process(process, url, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url + ready, timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{command} not ready within {timeout_s:g} s:\n{log.read_text(errors='replace')}")


def start_peer(log: Path, mode: str = "answer") -> Process:
    port = free_port()
    command = [sys.executable, "-m", "tests.runtime.gateway.peers", "--port", str(port), "--mode", mode]
    return start(command, f"http://127.0.0.1:{port}", "/v2/models/m/ready", log)


def start_gateway(
    models: dict[str, dict[str, Any]],
    urls: dict[str, dict[str, str]],
    work: Path,
    env: dict[str, str] | None = None,
    name: str = "gateway",
) -> Process:
    """The gateway process for ``models`` (stack-file specs) whose variants are at ``urls``."""
    config = GatewayConfig(
        stack="faults",
        models={m: ModelSpec.model_validate(spec) for m, spec in models.items()},
        endpoints={m: {v: VariantEndpoint(url=u, model_name="m") for v, u in urls[m].items()} for m in models},
        auth_required=False,
    )
    path = work / f"{name}.json"
    path.write_text(config.model_dump_json(by_alias=True))
    port = free_port()
    command = [sys.executable, "-m", "runtime.gateway", "--host", "127.0.0.1", "--port", str(port)]
    env = {"ML_SERVING_GATEWAY_CONFIG": str(path), **(env or {})}
    return start(command, f"http://127.0.0.1:{port}", "/v2/health/ready", work / f"{name}.log", env)


def control(peer: Process, **state: Any) -> None:
    """Switch the peer's fault: ``mode`` (peers.py), ``delay_s``, ``hang_s``."""
    response = httpx.post(peer.url + "/control", content=orjson.dumps(state), timeout=5)
    response.raise_for_status()


def body(value: float) -> bytes:
    return orjson.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [value]}]})


@dataclass(frozen=True, slots=True)
class Shot:
    """One request's answer as the client saw it."""

    sent: float
    """When it was sent (monotonic)."""
    latency_ms: float
    """As the client measured it."""
    server_ms: float | None
    """As the gateway measured it (its Server-Timing header): the time the budget bounds."""
    status: int
    variant: str | None
    fallback: str | None
    value: float
    data: Any = None

    @property
    def arrived(self) -> float:
        """About when the gateway began on it: what the client measured beyond the gateway's own
        time was spent in transit and in queues before it."""
        return self.sent + (self.latency_ms - (self.server_ms or 0.0)) / 1000

    @property
    def failed(self) -> bool:
        return self.status != 200

    @property
    def from_model(self) -> bool:
        return self.status == 200 and self.fallback is None


async def drive(
    url: str,
    concurrency: int,
    seconds: float,
    value: Callable[[int], float] = lambda i: float(i % 97),
    on_tick: Callable[[float], None] | None = None,
    pace_s: float = 0.0,
    at_least: int = 0,
) -> list[Shot]:
    """``concurrency`` clients, each sending its next request when its last one is answered (and
    no sooner than ``pace_s`` after it sent the last), for ``seconds``; every answer recorded (a
    transport error is status 0). ``on_tick(elapsed)`` is called about every 10 ms, to inject a
    fault on schedule. Pacing keeps a fast-failing fault from turning into an overload test.
    With ``at_least``, the clients go on past ``seconds`` (up to three times as long) until that
    many answers are in, so a slowed machine still gives enough samples."""
    shots: list[Shot] = []
    counter = iter(range(10**9))
    rng = random.Random(1)  # paced clients drift apart, as real ones do, instead of moving in lockstep
    started = time.monotonic()
    until, last_call = started + seconds, started + 3 * seconds

    def going() -> bool:
        now = time.monotonic()
        return now < until or (len(shots) < at_least and now < last_call)

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout) as session:

        async def client() -> None:
            while going():
                v = value(next(counter))
                sent = time.monotonic()
                next_at = sent + pace_s * rng.uniform(0.5, 1.5)
                try:
                    async with session.post(
                        url, data=body(v), headers={"content-type": "application/json"}
                    ) as response:
                        payload = await response.read()
                        status, headers = response.status, response.headers
                except (aiohttp.ClientError, TimeoutError):
                    shots.append(Shot(sent, (time.monotonic() - sent) * 1000, None, 0, None, None, v))
                    continue
                finally:
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                latency = (time.monotonic() - sent) * 1000
                data = orjson.loads(payload)["outputs"][0]["data"] if status == 200 else None
                timing = headers.get("server-timing", "")
                server = float(timing.split("dur=")[1]) if "dur=" in timing else None
                shots.append(
                    Shot(
                        sent,
                        latency,
                        server,
                        status,
                        headers.get("x-ml-serving-variant"),
                        headers.get("x-ml-serving-fallback"),
                        v,
                        data,
                    )
                )

        async def ticks(tick: Callable[[float], None]) -> None:
            while going():
                tick(time.monotonic() - started)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(client() for _ in range(concurrency)), *([ticks(on_tick)] if on_tick else []))
    return shots


_LAG_PROBE = """
import json, select, sys, time
lags = []
while not select.select([sys.stdin], [], [], 0)[0]:  # until the driver closes our stdin
    t = time.monotonic()
    time.sleep(0.005)
    lags.append((time.monotonic() - t - 0.005) * 1000)
print(json.dumps(lags))
"""


async def drive_measured(url: str, concurrency: int, seconds: float, **kwargs: Any) -> tuple[list[Shot], list[float]]:
    """``drive``, and beside it how late a separate process on this machine wakes from a 5 ms
    sleep (ms), for as long as the clients run: the scheduling delay every process here suffers
    at that moment, which no gateway can make up for. On a quiet machine it is well under a
    millisecond."""
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _LAG_PROBE, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    try:
        shots = await drive(url, concurrency, seconds, **kwargs)
        out, _ = await probe.communicate(b"")
    finally:
        if probe.returncode is None:
            probe.kill()
            await probe.wait()
    return shots, orjson.loads(out)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def recovery_s(shots: list[Shot], fault_ended: float) -> float | None:
    """Seconds from the end of a fault until the first answer from the model sent after it ended."""
    after = sorted((s for s in shots if s.sent >= fault_ended and s.from_model), key=lambda s: s.sent)
    return after[0].sent + after[0].latency_ms / 1000 - fault_ended if after else None
