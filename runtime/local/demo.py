"""``python -m runtime.local demo``: a minute of realistic traffic through the local gateway.

Half of it normal transactions, then drifted ones. While it runs it prints the canary split and
fallbacks; it prints the moment the drift monitor flags drift, and at the end the shadow
agreement from the gateway's promotion report and where to look at the drift report. Then, for
each model with an experiment, the A/B phase (``runtime/local/abtest.py``) replays users until
the readout names the better arm.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from runtime.local.abtest import run_ab_phase
from runtime.local.configs import monitor_token, read_token
from runtime.local.demo_vision import replay_images, summarize_images
from runtime.local.layout import Layout
from runtime.local.platform import LocalPlatform
from runtime.local.traffic import drifted_rows, normal_rows, paced_posts, v2_request

__all__ = ["run_demo", "Tally"]

_RATE_PER_S = 40.0
"""Requests per second the demo aims for (1 to 4 rows each): enough to fill drift windows in seconds."""
_WORKERS = 4
_POOL_ROWS = 20_000
VISION_MODEL = "vision"
"""The stack's image model, when it has one: the demo then sends it images too."""


@dataclass
class Tally:
    variants: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    drift_flagged_at: float | None = None
    drift_detail: str = ""

    def split(self) -> str:
        served = sum(self.variants.values()) or 1
        return ", ".join(f"{name} {count / served:.0%} ({count})" for name, count in sorted(self.variants.items()))


async def _worker(client: httpx.AsyncClient, url: str, pool, until: float, tally: Tally, seed: int, headers) -> None:
    rng = random.Random(seed)

    def request() -> tuple[dict[str, Any], None]:
        start = rng.randrange(0, len(pool) - 4)
        tally.requests += 1
        return v2_request(pool.iloc[start : start + rng.randint(1, 4)]), None

    def answered(response: httpx.Response, _: None) -> None:
        tally.variants[response.headers.get("x-ml-serving-variant", "?")] += 1

    interval = _WORKERS / _RATE_PER_S
    await paced_posts(client, url, headers, until, interval, request, answered, tally.errors, tally.fallbacks)


def _monitor_headers(layout: Layout) -> dict[str, str]:
    """The drift monitor's token (every read but /metrics needs it)."""
    return {"authorization": f"Bearer {read_token(monitor_token(layout))}"}


async def _watch_drift(
    client: httpx.AsyncClient, url: str, started: float, drift_from: float, tally: Tally, headers: dict[str, str]
) -> None:
    while tally.drift_flagged_at is None:
        await asyncio.sleep(1.0)
        try:
            status = (await client.get(url, headers=headers)).json()
        except (httpx.HTTPError, ValueError):
            continue
        for variant, state in (status.get("variants") or {}).items():
            last = state.get("last") or {}
            if last.get("dataset_drifted"):
                now = time.monotonic()
                tally.drift_flagged_at = now - started
                drifted = [f["name"] for f in last.get("features", []) if f.get("drifted")]
                if now >= drift_from:
                    when = f"{now - drift_from:.0f} s after the drift began"
                else:
                    when = "before the drift began: a false alarm"
                tally.drift_detail = f"variant {variant}, {when}; drifted: {', '.join(drifted) or '-'}"
                print(f"  >> drift flagged at t={tally.drift_flagged_at:.0f} s on {tally.drift_detail}", flush=True)
                return


async def _replay(layout: Layout, model: str, seconds: float, headers: dict[str, str]) -> Tally:
    tally = Tally()
    url = f"{layout.gateway_url}/v2/models/{model}/infer"
    phases = [("normal", normal_rows(_POOL_ROWS, seed=101)), ("drifted", drifted_rows(_POOL_ROWS, seed=202))]
    started = time.monotonic()
    drift_from = started + seconds / 2
    limits = httpx.Limits(max_connections=_WORKERS + 2)
    async with httpx.AsyncClient(timeout=10.0, limits=limits, trust_env=False) as client:
        status_url = f"{layout.monitor_url}/status/{model}"
        watcher = asyncio.create_task(
            _watch_drift(client, status_url, started, drift_from, tally, _monitor_headers(layout))
        )
        for number, (phase, pool) in enumerate(phases):
            until = started + seconds / 2 * (number + 1)
            print(f"phase {number + 1}: {phase} traffic for {seconds / 2:.0f} s ...", flush=True)
            workers = [
                asyncio.create_task(_worker(client, url, pool, until, tally, seed=i + 10 * number, headers=headers))
                for i in range(_WORKERS)
            ]
            while time.monotonic() < until:
                await asyncio.sleep(min(5.0, max(0.0, until - time.monotonic())))
                print(
                    f"  t={time.monotonic() - started:4.0f} s  requests {tally.requests}  split {tally.split()}  "
                    f"fallbacks {sum(tally.fallbacks.values())}  errors {sum(tally.errors.values())}",
                    flush=True,
                )
            await asyncio.gather(*workers)
        await asyncio.sleep(2.0)  # the gateway's tap sends in batches; let the last ones land
        watcher.cancel()
    return tally


def _get_json(url: str, headers: dict[str, str]) -> dict[str, Any]:
    try:
        response = httpx.get(url, headers=headers, timeout=5.0, trust_env=False)
        return response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}


def _summarize(layout: Layout, model: str, tally: Tally, report: dict[str, Any], status: dict[str, Any]) -> None:
    print("\nresults:")
    print(f"  requests sent       {tally.requests}")
    print(f"  canary split        {tally.split()}")
    fallbacks = ", ".join(f"{reason} {count}" for reason, count in tally.fallbacks.items()) or "none"
    print(f"  fallbacks           {sum(tally.fallbacks.values())} ({fallbacks})")
    if tally.errors:
        print(f"  failed requests     {sum(tally.errors.values())} ({dict(tally.errors)})")
    for shadow in report.get("shadows", []):
        agreement = shadow.get("agreement")
        shown = f"{agreement:.1%}" if agreement is not None else "n/a"
        print(
            f"  shadow {shadow['variant']:<12} agreement {shown} over {shadow.get('compared', 0)} compared, "
            f"{shadow.get('errors', 0)} errors, {shadow.get('dropped', 0)} dropped"
        )
    answered = sum(tally.variants.values()) + sum(tally.fallbacks.values())
    if answered and sum(tally.fallbacks.values()) > answered / 2:
        budget = layout.spec.models[model].latency_budget_ms
        print(
            f"  note                most answers were fallbacks: the model servers did not answer within the "
            f"{budget:g} ms budget (a busy machine? see `uptime` and {layout.logs_dir})"
        )
    for variant, state in status.items():
        rows, windows = state.get("rows_seen", 0), state.get("windows", 0)
        print(f"  drift monitor {variant:<6}rows seen {rows}, windows compared {windows}")
    if tally.drift_flagged_at is not None:
        print(f"  drift flagged       at t={tally.drift_flagged_at:.0f} s on {tally.drift_detail}")
    else:
        print("  drift flagged       not during the demo (windows may not have filled; see the report)")
    print(f"  drift report        {layout.monitor_url}/report/{model}")
    print(f"  rollout report      {layout.gateway_url}/rollouts/{model}/report")


def _running(layout: Layout) -> bool:
    try:
        return httpx.get(f"{layout.gateway_url}/v2/health/ready", timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def run_demo(layout: Layout, seconds: float = 60.0, train_rows: int | None = None) -> int:
    model = next(iter(layout.spec.models))
    platform = None
    if _running(layout):
        print(f"using the platform already running at {layout.gateway_url}")
    else:
        platform = LocalPlatform(layout, train_rows=train_rows)
        platform.up()
    try:
        token_file = layout.state_dir / "gateway-token"
        headers = {}
        if layout.spec.platform.gateway.auth_required:
            headers["authorization"] = f"Bearer {token_file.read_text().strip()}"
        tally = asyncio.run(_replay(layout, model, seconds, headers))
        report = _get_json(f"{layout.gateway_url}/rollouts/{model}/report", headers)
        status = _get_json(f"{layout.monitor_url}/status/{model}", _monitor_headers(layout)).get("variants", {})
        _summarize(layout, model, tally, report, status)
        if VISION_MODEL in layout.spec.models:
            monitor = _monitor_headers(layout)
            watch = functools.partial(_watch_drift, headers=monitor)
            images = asyncio.run(replay_images(layout, VISION_MODEL, seconds * 2 / 3, headers, watch))
            summarize_images(
                layout, VISION_MODEL, images, _get_json(f"{layout.gateway_url}/rollouts/{VISION_MODEL}/report", headers)
            )
        for name, spec in layout.spec.models.items():
            if spec.experiment is not None:
                print()
                run_ab_phase(layout, name, headers, _monitor_headers(layout))
    finally:
        if platform is not None:
            platform.down()
            print("stopped; nothing left running.", flush=True)
    return 0
