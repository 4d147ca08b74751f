"""Gateway benchmark: overhead over the model server, budget under a hanging model, killed servers.

    .venv/bin/python bench/gateway.py [--duration 10]

Starts, on loopback: an MLflow registry (SQLite, under .bench/gateway) with a small sklearn model,
the real batched model server (``python -m runtime.modelserver``), the gateway
(``python -m runtime.gateway``) with the aiohttp upstream client (with and without coalescing)
and the httpx one, and a hanging test peer. Load comes from wrk (Debian package ``wrk``). On 2 cores the model server is pinned
to CPU 1, the gateway and wrk share CPU 0, so the gateway pays for the load generator too
(``--no-pin`` leaves placement to the scheduler, which is fairer on a machine shared with other
work). Prints one table; on a shared machine, run it twice before trusting a close call.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import proxies  # noqa: E402
from bench.gateway_report import print_report as _print  # noqa: E402
from bench.processes import adopt_orphans, on_signals, stop_all  # noqa: E402
from bench.wrk_output import failures, found, ms, wrk_argv  # noqa: E402
from runtime.spec import ModelSpec  # noqa: E402
from runtime.wiring import GatewayConfig, VariantEndpoint  # noqa: E402
from tests.ports import free_port  # noqa: E402
from tests.runtime.modelserver.servers import features, register_model, v2_columns  # noqa: E402

BODY = json.dumps(v2_columns(features(1, seed=3)))
BUDGET_MS = 50.0
SLICE_S = {1: 1.0, 32: 2.0}
"""Seconds per interleaved slice by concurrency: at 1 connection, more and shorter slices give
more paired differences of p50 (each slice still holds a few hundred requests)."""


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


PIN = True


def pinned(cpu: str, command: list[str]) -> list[str]:
    if PIN and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", cpu, *command]
    return command


@dataclass
class Proc:
    process: subprocess.Popen
    url: str
    name: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    name: str,
    command: list[str],
    url: str,
    ready_path: str,
    log: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 120,
) -> Proc:
    say(f"starting {name} ...")
    handle = log.open("w")
    process = subprocess.Popen(
        command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(url + ready_path, timeout=1).status_code == 200:
                say(f"{name} ready at {url}")
                return Proc(process, url, name)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{name} not ready within {timeout_s:.0f} s; see {log}")


def model_server(name: str, uri: str, tracking_uri: str, work: Path) -> Proc:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "runtime.modelserver",
        "--model_name",
        "fraud",
        "--model_dir",
        uri,
        "--host",
        "127.0.0.1",
        "--http_port",
        str(port),
        "--max_batch_size",
        "32",
        "--max_latency_ms",
        "2",
    ]
    return start(
        name,
        pinned("1", command),
        f"http://127.0.0.1:{port}",
        "/v2/health/ready",
        work / f"{name}.log",
        env={"MLFLOW_TRACKING_URI": tracking_uri},
    )


def proxy(name: str, work: Path, upstream_url: str) -> Proc:
    port = free_port()
    upstream = upstream_url.removeprefix("http://")
    build = proxies.nginx_command if name == "nginx" else proxies.haproxy_command
    return start(
        name,
        pinned("0", build(work, port, upstream)),
        f"http://127.0.0.1:{port}",
        "/v2/health/ready",
        work / f"{name}.log",
    )


def hanging_peer(work: Path) -> Proc:
    port = free_port()
    command = [sys.executable, "-m", "tests.runtime.gateway.peers", "--port", str(port), "--mode", "hang"]
    return start(
        "hanging peer", pinned("1", command), f"http://127.0.0.1:{port}", "/v2/models/fraud/ready", work / "hang.log"
    )


def gateway(
    name: str,
    spec: dict,
    urls: dict[str, str],
    work: Path,
    client: str = "aiohttp",
    coalesce: bool = True,
    probe: Path | None = None,
) -> Proc:
    config = GatewayConfig(
        stack="bench",
        models={"fraud": ModelSpec.model_validate(spec)},
        endpoints={"fraud": {v: VariantEndpoint(url=u, model_name="fraud") for v, u in urls.items()}},
        auth_required=False,
    )
    path = work / f"{name}.json"
    path.write_text(config.model_dump_json(by_alias=True))
    port = free_port()
    runner = ["-m", "runtime.gateway"] if probe is None else [str(REPO / "bench" / "gateway_probe.py"), str(probe)]
    command = [
        sys.executable,
        *runner,
        "--config",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return start(
        name,
        pinned("0", command),
        f"http://127.0.0.1:{port}",
        "/v2/health/ready",
        work / f"{name}.log",
        env={"ML_SERVING_GATEWAY_HTTP_CLIENT": client, "ML_SERVING_GATEWAY_COALESCE": str(coalesce).lower()},
    )


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int
    cpu_ms: float | None = None
    """CPU time of the serving process per request (the gateway's own, or the model server's)."""
    slice_p50s: list[float] = field(default_factory=list)
    """Each interleaved slice's p50, in order: a hop's added latency is taken slice by slice
    against the direct slice run just before it, so drifting load from elsewhere cancels out."""


def wrk(url: str, connections: int, duration_s: float, script: Path) -> Load:
    command = pinned("0", wrk_argv(url, connections, duration_s, script))
    return parse_wrk(subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60).stdout)


def parse_wrk(out: str) -> Load:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    return Load(
        float(found(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        ms(percentiles["50"]),
        ms(percentiles["99"]),
        int(found(r"(\d+) requests in", out).group(1)),
        failures(out),
    )


def interleaved(
    targets: list[tuple[str, str, Proc]], connections: int, duration_s: float, script: Path
) -> list[tuple[str, int, Load]]:
    """Run the targets in turns of ``SLICE_S`` seconds so that drifting load from other work hits all alike.

    Per target: total requests over total time, the median of the slices' p50 and p99, and the
    CPU time its server process spent per request (robust to a busy machine).
    """
    slice_s = SLICE_S.get(connections, 2.0)
    slices = max(1, round(duration_s / slice_s))
    say(f"{connections} connection(s): {slices} interleaved {slice_s:g} s slices per target ...")
    for _, url, _ in targets:
        wrk(url, connections, 1, script)  # warm-up: connections, caches, the batcher's adaptation
    loads: dict[str, list[Load]] = {label: [] for label, _, _ in targets}
    cpu: dict[str, float] = {label: 0.0 for label, _, _ in targets}
    for _ in range(slices):
        for label, url, proc in targets:
            before = psutil.Process(proc.process.pid).cpu_times()
            loads[label].append(wrk(url, connections, slice_s, script))
            after = psutil.Process(proc.process.pid).cpu_times()
            cpu[label] += (after.user - before.user) + (after.system - before.system)
    out = []
    for label, runs in loads.items():
        requests = sum(r.requests for r in runs)
        out.append(
            (
                label,
                connections,
                Load(
                    rps=sum(r.rps for r in runs) / len(runs),
                    p50_ms=statistics.median(r.p50_ms for r in runs),
                    p99_ms=statistics.median(r.p99_ms for r in runs),
                    requests=requests,
                    failed=sum(r.failed for r in runs),
                    cpu_ms=cpu[label] * 1000 / max(requests, 1),
                    slice_p50s=[r.p50_ms for r in runs],
                ),
            )
        )
    return out


def probed_run(url: str, connections: int, duration_s: float, script: Path) -> tuple[Load, dict]:
    """The probed gateway on its own, after the interleaved slices: its probes (a 1 ms sampler
    among them) run only inside this window, so they take nothing from the targets measured."""
    wrk(f"{url}/v2/models/fraud/infer", connections, 1, script)
    httpx.post(f"{url}/probe/reset", timeout=5)
    load = wrk(f"{url}/v2/models/fraud/infer", connections, duration_s, script)
    return load, httpx.get(f"{url}/probe", timeout=5).json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    parser.add_argument(
        "--no-pin", action="store_true", help="let the scheduler place processes (a busy shared machine)"
    )
    parser.add_argument(
        "--overhead-only", action="store_true", help="only direct, proxies and the default gateway at 1 and 32"
    )
    args = parser.parse_args()
    adopt_orphans()
    on_signals()
    global PIN
    PIN = not args.no_pin
    if not shutil.which("wrk"):
        print("error: wrk is not installed; install it with: apt-get install -y wrk", file=sys.stderr)
        return 2
    work = REPO / ".bench" / "gateway"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    script = work / "post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = [[{BODY}]]\nwrk.headers["Content-Type"] = "application/json"\n')
    tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
    say("training and registering the benchmark model ...")
    uri = register_model(tracking_uri, work / "artifacts")
    procs: list[Proc] = []
    rows: list[tuple[str, int, Load]] = []
    probes: dict[int, dict] = {}
    try:
        primary = model_server("model server", uri, tracking_uri, work)
        procs.append(primary)
        one = {"variants": [{"model": "models:/fraud/1", "role": "primary", "weight": 100}], "latencyBudgetMs": 1000}
        # The shipped default (aiohttp, coalescing) beside the choices it was measured against.
        choices = {"aiohttp": ("aiohttp", True), "aiohttp, no coalescing": ("aiohttp", False), "httpx": ("httpx", True)}
        if args.overhead_only:
            choices = {"aiohttp": ("aiohttp", True)}
        gateways = {
            label: gateway(f"gateway-{client}-{coalesce}", one, {"v1": primary.url}, work, client, coalesce)
            for label, (client, coalesce) in choices.items()
        }
        procs += gateways.values()
        probed = gateway("gateway-probed", one, {"v1": primary.url}, work, probe=work / "probe.json")
        procs.append(probed)
        plain = {name: proxy(name, work, primary.url) for name in proxies.ensure()}
        procs += plain.values()
        direct_url = f"{primary.url}/v2/models/fraud/infer"
        targets = [
            ("direct", direct_url, primary),
            *((name, f"{p.url}/v2/models/fraud/infer", p) for name, p in plain.items()),
            *((f"gateway ({c})", f"{g.url}/v2/models/fraud/infer", g) for c, g in gateways.items()),
        ]
        for connections in (1, 32):
            rows += interleaved(targets, connections, args.duration, script)
            say(f"{connections} connection(s): the probed gateway alone, {args.duration:g} s ...")
            load, probes[connections] = probed_run(probed.url, connections, args.duration, script)
            rows.append(("gateway (probed, run alone)", connections, load))
        by = {(label, c): load for label, c, load in rows}
        # One replica's rate at concurrency 32, for bench/drift_ingest.py's replicas-per-monitor.
        (work / "results.json").write_text(
            json.dumps(
                {
                    "gatewayRpsAt32": by[("gateway (aiohttp)", 32)].rps,
                    "directRpsAt32": by[("direct", 32)].rps,
                    "loadAverage": os.getloadavg()[0],
                }
            )
        )
        for g in [*gateways.values(), probed]:
            g.stop()
        if args.overhead_only:
            _print(rows, None, probes)
            return 0

        hang = hanging_peer(work)
        procs.append(hang)
        hang_spec = {
            **one,
            "latencyBudgetMs": BUDGET_MS,
            "fallback": {"value": 0},
            "circuitBreaker": {"failureThreshold": 1_000_000, "cooldownMs": 1000},
        }
        hang_gw = gateway("gateway-hang", hang_spec, {"v1": hang.url}, work)
        procs.append(hang_gw)
        say(f"wrk against a hanging model (budget {BUDGET_MS:g} ms), 8 connections ...")
        rows.append(
            (
                f"hanging model, budget {BUDGET_MS:g} ms",
                8,
                wrk(f"{hang_gw.url}/v2/models/fraud/infer", 8, args.duration, script),
            )
        )
        hang_gw.stop()

        canary = model_server("canary model server", uri, tracking_uri, work)
        procs.append(canary)
        two = {
            "variants": [
                {"model": "models:/fraud/1", "role": "primary", "weight": 50},
                {"model": "models:/fraud/2", "role": "canary", "weight": 50},
            ],
            "latencyBudgetMs": 1000,
        }
        kill_gw = gateway("gateway-kill", two, {"v1": primary.url, "v2": canary.url}, work)
        procs.append(kill_gw)
        say(
            "wrk through the gateway, 16 connections; the canary model server is killed (SIGKILL) after a third of the run, no fallback declared ..."
        )
        command = pinned(
            "0",
            [
                "wrk",
                "-t1",
                "-c16",
                f"-d{args.duration:g}s",
                "--latency",
                "--timeout",
                "5s",
                "-s",
                str(script),
                f"{kill_gw.url}/v2/models/fraud/infer",
            ],
        )
        runner = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        time.sleep(args.duration / 3)
        canary.process.send_signal(signal.SIGKILL)
        canary.process.wait(timeout=10)
        say("canary killed")
        out, _ = runner.communicate(timeout=args.duration + 60)
        rows.append(("canary killed mid-run", 16, parse_wrk(out)))
        report = httpx.get(f"{kill_gw.url}/rollouts/fraud/report", timeout=5).json()
    finally:
        for proc in reversed(procs):
            proc.stop()
        stop_all()
    _print(rows, report, probes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
