"""The demo's A/B phase: users of the recommender's ground truth visit through the gateway, click
what the truth says they would, and the readout is watched until it names the better arm.

Each simulated user is one of the world's users (``TasteWorld``, the seed the models were trained
from); they visit one to three times, and on each visit the gateway gives them the list of their
arm (sticky by ``user_id``). Clicks are drawn from the true click probabilities of the items
shown and posted to the monitor's ``/outcomes`` a second later (as a click follows a view),
with the item's price as the value.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from runtime.local.layout import Layout
from runtime.recommend import CONTEXTS, TasteWorld

__all__ = ["run_ab_phase", "ABTally"]

_WORKERS = 8
_CLICK_DELAY_S = 1.0


@dataclass
class ABTally:
    users: int = 0
    requests: int = 0
    clicks: int = 0
    unjoined: int = 0
    """Outcomes the monitor could not join to a user (their exposure had not arrived)."""
    errors: Counter[str] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)
    truth: dict[str, list[float]] = field(default_factory=dict)
    """variant -> true chance, per served list, that it gets a click."""
    readout: dict[str, Any] = field(default_factory=dict)


def _request(user: int, context: str) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "user_id", "datatype": "INT64", "shape": [1], "data": [user]},
            {"name": "context", "datatype": "BYTES", "shape": [1], "data": [context]},
        ]
    }


async def _visit(client, url: str, headers, world: TasteWorld, user: int, rng, tally: ABTally, outbox: list) -> None:
    context = CONTEXTS[world.home_context[user]]
    try:
        response = await client.post(url, json=_request(user, context), headers=headers)
    except httpx.HTTPError as exc:
        tally.errors[type(exc).__name__] += 1
        return
    tally.requests += 1
    if response.status_code != 200 or response.headers.get("x-ml-serving-fallback"):
        tally.errors[f"HTTP {response.status_code}" if response.status_code != 200 else "fallback"] += 1
        return
    variant = response.headers.get("x-ml-serving-variant", "?")
    tally.variants[variant] += 1
    items = next(o for o in response.json()["outputs"] if o["name"] == "items")
    shown = np.asarray(items["data"], dtype=np.int64).reshape(1, -1)
    p = world.click_probability(np.array([user]), shown)[0]
    tally.truth.setdefault(variant, []).append(float(1 - np.prod(1 - p)))
    clicked = shown[0][rng.random(len(p)) < p]
    now = time.time()
    rid = response.headers.get("x-request-id")
    for item in clicked.tolist():
        outbox.append(
            (
                time.monotonic() + _CLICK_DELAY_S,
                {
                    "kind": "click",
                    "userId": str(user),
                    "requestId": rid,
                    "timestamp": now,
                    "value": float(world.price[item]),
                    "itemId": item,
                },
            )
        )
    tally.clicks += len(clicked)


async def _post_outcomes(client, url: str, headers, outbox: list, tally: ABTally, final: bool = False) -> None:
    cutoff = float("inf") if final else time.monotonic()
    due = [event for at, event in outbox if at <= cutoff]
    if not due:
        return
    outbox[:] = [(at, event) for at, event in outbox if at > cutoff]
    try:
        response = await client.post(url, json={"outcomes": due}, headers=headers)
    except httpx.HTTPError as exc:
        tally.errors[f"outcomes {type(exc).__name__}"] += 1
        return
    if response.status_code != 202:
        tally.errors[f"outcomes HTTP {response.status_code}"] += 1
    else:
        tally.unjoined += len(response.json().get("unknown", []))


async def _replay(layout: Layout, model: str, headers, monitor_headers, max_users: int, seed: int) -> ABTally:
    world = TasteWorld.generate(seed=0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(world.n_users)[:max_users].tolist()
    tally = ABTally()
    outbox: list[tuple[float, dict[str, Any]]] = []
    infer_url = f"{layout.gateway_url}/v2/models/{model}/infer"
    outcome_url = f"{layout.monitor_url}/outcomes/{model}"
    readout_url = f"{layout.monitor_url}/experiments/{model}"
    async with httpx.AsyncClient(
        timeout=10.0, trust_env=False, limits=httpx.Limits(max_connections=_WORKERS + 4)
    ) as client:

        async def worker(index: int) -> None:
            own = np.random.default_rng(seed * 100 + index)
            while order and not tally.readout.get("decided_after_users"):
                user = order.pop()
                tally.users += 1
                for _ in range(1 + min(int(own.poisson(1.0)), 2)):
                    await _visit(client, infer_url, headers, world, user, own, tally, outbox)

        workers = [asyncio.create_task(worker(i)) for i in range(_WORKERS)]
        reported = 0
        try:
            while not all(w.done() for w in workers):
                await asyncio.sleep(0.5)
                await _post_outcomes(client, outcome_url, monitor_headers, outbox, tally)
                if tally.users - reported >= 200:
                    reported = tally.users
                    tally.readout = await _readout(client, readout_url, monitor_headers, tally)
                    _progress(tally)
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.sleep(_CLICK_DELAY_S)
        await _post_outcomes(client, outcome_url, monitor_headers, outbox, tally, final=True)
        await asyncio.sleep(0.5)
        tally.readout = await _readout(client, readout_url, monitor_headers, tally)
    return tally


async def _readout(client, url: str, headers, tally: ABTally) -> dict[str, Any]:
    try:
        response = await client.get(url, headers=headers)
        if response.status_code == 200:
            return response.json()
        tally.errors[f"readout HTTP {response.status_code}"] += 1
    except (httpx.HTTPError, ValueError) as exc:
        tally.errors[f"readout {type(exc).__name__}"] += 1
    return tally.readout


def _progress(tally: ABTally) -> None:
    r = tally.readout
    if not r:
        return
    arms = r.get("arms", {})
    rates = ", ".join(
        f"{label} {arm['variant']} {arm['users']} users {(arm['conversion_rate']['estimate'] or 0):.1%}"
        for label, arm in arms.items()
    )
    lift = r.get("lift", {}).get("estimate")
    shown = f"{lift:+.1%}" if lift is not None else "n/a"
    print(f"  users {tally.users:5d}  {rates}  lift {shown}  -> {r.get('decision')}", flush=True)


def run_ab_phase(
    layout: Layout,
    model: str,
    headers: dict[str, str],
    monitor_headers: dict[str, str],
    max_users: int = 2000,
    seed: int = 7,
) -> ABTally:
    """``headers`` for the gateway, ``monitor_headers`` (the monitor's token) for outcomes and the readout."""
    arms = layout.spec.models[model].arms
    if arms is None:
        raise ValueError(f"models.{model}: the A/B phase needs a model with an experiment")
    a, b = arms
    print(f"A/B test of {model}: A = {a}, B = {b}, sticky by user; replaying up to {max_users} users ...", flush=True)
    tally = asyncio.run(_replay(layout, model, headers, monitor_headers, max_users, seed))
    r = tally.readout
    print("\nA/B results:")
    truth = {v: float(np.mean(p)) for v, p in tally.truth.items()}
    better = max(truth, key=truth.__getitem__) if truth else "?"
    print(
        f"  ground truth        {', '.join(f'{v} {t:.1%} of lists clicked' for v, t in sorted(truth.items()))}: {better} is better"
    )
    print(
        f"  users {tally.users}, requests {tally.requests}, clicks {tally.clicks}, split {dict(tally.variants)}"
        + (f", errors {dict(tally.errors)}" if tally.errors else "")
    )
    if r:
        lift = r["lift"]
        print(f"  readout             {r['decision']} ({r['reason']})")
        if lift["estimate"] is not None:
            print(f"  lift of B over A    {lift['estimate']:+.1%} [95%: {lift['low']:+.1%}, {lift['high']:+.1%}]")
        print(
            f"  decided after       {r['decided_after_users'] or 'not yet'} users; the test needs "
            f"{r['required_users_per_arm'] or 'n/a'} per arm to find a {r['minimum_detectable_lift']:.0%} lift"
        )
        print(
            f"  sample ratio        p = {r['srm']['p_value']:.3g} ({'MISMATCH' if r['srm']['mismatch'] else 'as declared'})"
        )
    print(f"  readout report      {layout.monitor_url}/experiments/{model}/report")
    return tally
