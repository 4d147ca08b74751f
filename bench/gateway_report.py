"""bench/gateway.py's table, its checks, and where the gateway's time went (bench/gateway_probe.py)."""

from __future__ import annotations

import os
import statistics
from typing import Any

__all__ = ["print_report"]

BUDGET_MS = 50.0
"""The hanging-model scenario's latency budget (bench/gateway.py's)."""


def print_report(rows: list[tuple[str, int, Any]], report: dict | None, probes: dict[int, dict]) -> None:
    print(
        f"\n{'scenario':<34} {'conn':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'failed':>7} {'cpu ms/req':>10}"
    )
    for label, connections, load in rows:
        cpu = f"{load.cpu_ms:.3f}" if load.cpu_ms is not None else "-"
        print(
            f"{label:<34} {connections:>4} {load.rps:>9.0f} {load.p50_ms:>8.2f} {load.p99_ms:>8.2f} {load.requests:>9} {load.failed:>7} {cpu:>10}"
        )
    by = {(label, c): load for label, c, load in rows}
    direct1, gw1 = by[("direct", 1)], by[("gateway (aiohttp)", 1)]
    direct32, gw32 = by[("direct", 32)], by[("gateway (aiohttp)", 32)]
    added = added_p50(gw1, direct1)
    checks = [
        ("added p50, 1 connection", f"{added:.2f} ms", "<= 1 ms", added <= 1.0),
        (
            "added p99, 1 connection",
            f"{gw1.p99_ms - direct1.p99_ms:.2f} ms",
            "<= 3 ms",
            gw1.p99_ms - direct1.p99_ms <= 3.0,
        ),
    ]
    for name in ("nginx", "haproxy"):
        if (name, 1) in by:
            print(f"added p50 at 1 connection, {name}: {added_p50(by[(name, 1)], direct1):.3f} ms (per-slice median)")
    if ("nginx", 1) in by:
        nginx_added = added_p50(by[("nginx", 1)], direct1)
        if nginx_added > 0:
            ratio = added / nginx_added
            checks.append(("added p50 at 1 vs nginx's", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5))
        else:
            checks.append(("added p50 at 1 vs nginx's", "n/a", "<= 1.5x", False))
            print("nginx's added p50 was not above 0 in this run (noise larger than the hop): no ratio")
    checks += [
        (
            "throughput kept, 32 connections",
            f"{gw32.rps / direct32.rps:.0%}",
            ">= 95%",
            gw32.rps >= 0.95 * direct32.rps,
        ),
        (
            "p99 at 32 vs direct",
            f"{gw32.p99_ms / direct32.p99_ms:.2f}x",
            "<= 1.5x",
            gw32.p99_ms <= 1.5 * direct32.p99_ms,
        ),
    ]
    hang = next((load for label, _, load in rows if label.startswith("hanging")), None)
    if hang is not None:
        checks.append(
            ("hanging model p99", f"{hang.p99_ms:.1f} ms", f"<= {BUDGET_MS + 5:g} ms", hang.p99_ms <= BUDGET_MS + 5)
        )
    killed = by.get(("canary killed mid-run", 16))
    if killed is not None:
        checks.append(("failed with a killed server", f"{killed.failed}", "0", killed.failed == 0))
    print(f"\n{'check':<34} {'measured':>10} {'target':>10}  result")
    for name, measured, target, ok in checks:
        print(f"{name:<34} {measured:>10} {target:>10}  {'met' if ok else 'MISSED'}")
    for connections, probe in sorted(probes.items()):
        print_probe(connections, probe)
    print(f"\nload average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if report is not None:
        canary = next(v for v in report["variants"] if v["variant"] == "v2")
        print(
            f"\nkilled run: canary calls {canary['calls']}, canary errors {canary['errors']} (each retried on the primary), "
            f"fallbacks {report['fallbacks']}"
        )


def added_p50(hop: Any, direct: Any) -> float:
    """The median over rounds of a hop's slice p50 minus the direct p50 around it.

    Each round runs direct first, then every hop: a hop's slice is bracketed by the direct slice
    of its round and that of the next one, and their mean is its baseline, so load drifting
    from elsewhere during the round cancels out (the last round has only the slice before it)."""
    d = direct.slice_p50s
    pairs = [h - ((d[i] + d[i + 1]) / 2 if i + 1 < len(d) else d[i]) for i, h in enumerate(hop.slice_p50s[: len(d)])]
    return statistics.median(pairs) if pairs else hop.p50_ms - direct.p50_ms


def print_probe(connections: int, probe: dict) -> None:
    """Where the probed gateway's time went at one concurrency."""

    def line(name: str, s: dict) -> str:
        if not s.get("n"):
            return f"  {name:<44} none"
        return f"  {name:<44} n {s['n']:>7}  p50 {s['p50']:7.2f}  p99 {s['p99']:7.2f}  max {s['max']:7.2f}  sum {s['sum']:8.0f} ms"

    print(f"\nprobed gateway, {connections} connection(s), {probe['seconds']:.1f} s:")
    print(line("gateway's own time per request (Server-Timing)", probe["requestMs"]))
    print(line("caller in coalescer (queue + upstream)", probe["callerMs"]))
    print(line("upstream call", probe["upstreamMs"]))
    print(f"  {'rows per upstream call (mean)':<44} {probe['upstreamRowsMean']:.2f}")
    print(line("event-loop lag (1 ms sampler)", probe["loopLagMs"]))
    print(f"  {'event-loop stalls over 5 ms':<44} {probe['loopStallsOver5Ms']}")
    for generation, s in probe["gcPauseMs"].items():
        print(line(f"GC pause, generation {generation}", s))
    print(
        f"  {'objects the collector walks (frozen apart)':<44} {probe['trackedObjects']} ({probe['frozenObjects']} frozen)"
    )
    print(line(f"connection pool wait ({probe['poolQueued']} queued)", probe["poolWaitMs"]))
