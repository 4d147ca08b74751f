"""Chaos benchmark: the gateway at concurrency 32 while its model servers misbehave.

    .venv/bin/python bench/chaos.py [--concurrency 32] [--fault-s 1.5] [--budget-ms 100]

Starts, on loopback, one test peer process per scenario (``tests/runtime/gateway/peers.py``,
switched into its fault over ``POST /control``) and the gateway process in front of them, then
per scenario drives ``--concurrency`` closed-loop clients for healthy / fault / recovered phases:

- stall: the model server answers only after 3 s, for the fault's duration, then normally;
- black hole: it reads requests and never answers, then answers normally;
- slow upstream: it answers after twice the budget, then normally;
- poison rows: one request in eight holds a row the model fails whole requests on (HTTP 500);
- kill: the canary's model server (50 % of traffic) is killed with SIGKILL; no fallback declared.

Prints, per scenario, the requests, the failed ones (what a client sees as an error), the
fallbacks, p50/p99 against the budget (as the client measured them and as the gateway did, its
Server-Timing), and the recovery time after the fault ended (until the first answer from the
model; the killed server does not come back, its calls are retried on the primary until its
breaker opens). Writes ``.bench/chaos/results.json``.
On a shared 2-core machine the figures are noisy; the scheduling delay a separate process
suffered meanwhile is printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.runtime.gateway.faults import (  # noqa: E402 - after the path insert
    Process,
    Shot,
    control,
    drive_measured,
    percentile,
    recovery_s,
    start_gateway,
    start_peer,
)  # noqa: E402

BUDGET_MS = 100.0
COOLDOWN_MS = 500.0
ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]


BREAKER = {
    "failureThreshold": 1000,
    "failureRatePercent": 50,
    "windowCalls": 50,
    "minimumCalls": 20,
    "cooldownMs": COOLDOWN_MS,
}
"""A failure-rate breaker: the poisoned eighth of requests (and the timeouts of a loaded 2-core
machine) never trip it, a model server that stopped answering does within 20 calls."""


def with_fallback() -> dict:
    return {"variants": ONE, "latencyBudgetMs": BUDGET_MS, "fallback": {"value": 0}, "circuitBreaker": BREAKER}


def scenarios() -> dict[str, dict]:
    return {
        "stall": {"mode": "hang", "hang_s": 3.0},
        "black hole": {"mode": "blackhole"},
        "slow upstream": {"mode": "slow", "delay_s": 2 * BUDGET_MS / 1000},
        "poison rows": {"mode": "poison", "delay_s": 0.002},
    }


def say(message: str) -> None:
    print(f"[chaos] {message}", file=sys.stderr, flush=True)


def row(name: str, shots: list[Shot], lag: list[float], fault: tuple[float, float], recovered: float | None) -> dict:
    during = [s for s in shots if fault[0] <= s.sent < fault[1]]
    client = [s.latency_ms for s in shots]
    server = [s.server_ms for s in shots if s.server_ms is not None]
    return {
        "scenario": name,
        "requests": len(shots),
        "failed": sum(s.failed for s in shots),
        "fallbacks": sum(s.fallback is not None for s in shots),
        "fallbacks_during_fault": sum(s.fallback is not None for s in during),
        "fallback_reasons": dict(Counter(s.fallback for s in shots if s.fallback is not None).most_common()),
        "poisoned": sum(s.value < 0 for s in shots),
        "clean_served_by_model": sum(s.from_model for s in shots if s.value >= 0)
        / max(1, sum(s.value >= 0 for s in shots)),
        "p50_ms": percentile(client, 50),
        "p99_ms": percentile(client, 99),
        "gateway_p99_ms": percentile(server, 99),
        "gateway_max_ms": max(server) if server else None,
        "budget_ms": BUDGET_MS,
        "recovery_ms": None if recovered is None else recovered * 1000,
        "scheduling_delay_p99_ms": percentile(lag, 99),
    }


async def scenario(
    name: str,
    url: str,
    fault,
    clear,
    seconds: tuple[float, float, float],
    concurrency: int,
    value=lambda i: float(i % 97),
) -> dict:
    healthy_s, fault_s, after_s = seconds
    marks: dict[str, float] = {}

    def tick(elapsed: float) -> None:
        if elapsed >= healthy_s and "start" not in marks:
            fault()
            marks["start"] = time.monotonic()
        if elapsed >= healthy_s + fault_s and "end" not in marks:
            clear()
            marks["end"] = time.monotonic()

    say(f"{name}: {concurrency} clients, {healthy_s:g} s healthy, {fault_s:g} s fault, {after_s:g} s after ...")
    shots, lag = await drive_measured(url, concurrency, sum(seconds), on_tick=tick, value=value)
    recovered = recovery_s(shots, marks["end"]) if name in scenarios() else None
    return row(name, shots, lag, (marks["start"], marks["end"]), recovered)


async def run(concurrency: int, fault_s: float, work: Path) -> list[dict]:
    procs: list[Process] = []
    SCENARIOS = scenarios()  # noqa: N806 - built after --budget-ms is read
    try:
        peers = {
            name: start_peer(work / f"peer-{i}.log")
            for i, name in enumerate([*SCENARIOS, "kill-primary", "kill-canary"])
        }
        procs += peers.values()
        models = {f"s{i}": with_fallback() for i in range(len(SCENARIOS))}
        urls = {f"s{i}": {"v1": peers[name].url} for i, name in enumerate(SCENARIOS)}
        models["kill"] = {
            "variants": [
                {"model": "models:/m/1", "role": "primary", "weight": 50},
                {"model": "models:/m/2", "role": "canary", "weight": 50},
            ],
            "latencyBudgetMs": BUDGET_MS,
            "circuitBreaker": BREAKER,
        }
        urls["kill"] = {"v1": peers["kill-primary"].url, "v2": peers["kill-canary"].url}
        say("starting the gateway ...")
        gateway = start_gateway(models, urls, work)
        procs.append(gateway)
        rows = []
        for i, (name, fault) in enumerate(SCENARIOS.items()):
            peer = peers[name]
            if name == "poison rows":
                # Poison stays on; the phases only mark when the poisoned requests are sent.
                control(peer, **fault)
                rows.append(
                    await scenario(
                        name,
                        f"{gateway.url}/v2/models/s{i}/infer",
                        lambda: None,
                        lambda: None,
                        (0.5, fault_s, 1.0),
                        concurrency,
                        value=lambda n: -1.0 - n if n % 8 == 3 else float(n % 97),
                    )
                )
                continue
            rows.append(
                await scenario(
                    name,
                    f"{gateway.url}/v2/models/s{i}/infer",
                    lambda p=peer, f=fault: control(p, **f),
                    lambda p=peer: control(p, mode="answer"),
                    (0.5, fault_s, 1.5),
                    concurrency,
                )
            )
        canary = peers["kill-canary"]
        rows.append(
            await scenario(
                "kill (canary, SIGKILL)",
                f"{gateway.url}/v2/models/kill/infer",
                lambda: canary.process.send_signal(signal.SIGKILL),
                lambda: None,
                (0.5, 0.01, 2.0),
                concurrency,
            )
        )
        return rows
    finally:
        for proc in reversed(procs):
            proc.stop()


def show(rows: list[dict]) -> None:
    print(
        f"\n{'scenario':<24} {'requests':>8} {'failed':>6} {'fallbacks':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'gw p99':>7} {'gw max':>7} {'budget':>6} {'recovery ms':>11} {'sched p99':>9}"
    )
    for r in rows:
        recovery = f"{r['recovery_ms']:.0f}" if r["recovery_ms"] is not None else "-"
        print(
            f"{r['scenario']:<24} {r['requests']:>8} {r['failed']:>6} {r['fallbacks']:>9} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{r['gateway_p99_ms']:>7.1f} {r['gateway_max_ms']:>7.1f} {r['budget_ms']:>6.0f} {recovery:>11} {r['scheduling_delay_p99_ms']:>9.1f}"
        )
    for r in rows:
        print(
            f"{r['scenario']}: fallbacks by reason {r['fallback_reasons']}; clean requests answered by the model "
            f"{r['clean_served_by_model']:.1%}" + (f" ({r['poisoned']} poisoned)" if r["poisoned"] else "")
        )
    print(
        f"\nbreaker cool-down {COOLDOWN_MS:g} ms; recovery is bounded by cool-down + one probe ({COOLDOWN_MS + BUDGET_MS:g} ms). "
        f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


def main() -> int:
    global BUDGET_MS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fault-s", type=float, default=1.5, help="seconds each fault lasts")
    parser.add_argument("--budget-ms", type=float, default=BUDGET_MS, help="every model's latency budget")
    args = parser.parse_args()
    BUDGET_MS = args.budget_ms
    work = REPO / ".bench" / "chaos"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows = asyncio.run(run(args.concurrency, args.fault_s, work))
    (work / "results.json").write_text(json.dumps(rows, indent=2))
    show(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
