"""The demo's vision part: held-out digit images through the gateway, then a changed camera.

First images like the training ones (the held-out digits, rendered anew), then the same digits
from a camera that is darker and turned. It reports the accuracy of the served classes in each
phase, the fallbacks, the moment the drift monitor flags the change, and the shadow's agreement.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx
import numpy as np

from runtime.local.layout import REPO_ROOT, Layout
from runtime.local.traffic import load_script, paced_posts

__all__ = ["replay_images", "summarize_images", "VisionTally", "image_request", "DIGITS_SCRIPT"]

DIGITS_SCRIPT = REPO_ROOT / "examples" / "digits.py"
_WORKERS = 4
_RATE_PER_S = 20.0


def _digits() -> ModuleType:
    return load_script(DIGITS_SCRIPT, "renders the demo's images")


def image_request(images: list) -> dict[str, Any]:
    """One V2 body: encoded images as base64 BYTES (raw pixels are sent as PNG files)."""
    digits = _digits()
    files = [digits.encode(v, "PNG") if isinstance(v, np.ndarray) else v for v in images]
    data = [base64.b64encode(f).decode("ascii") for f in files]
    return {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [len(data)], "data": data}]}


@dataclass
class VisionTally:
    right: Counter[str] = field(default_factory=Counter)
    seen: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    drift_flagged_at: float | None = None
    drift_detail: str = ""

    def accuracy(self, phase: str) -> str:
        seen = self.seen[phase]
        return f"{self.right[phase] / seen:.1%} of {seen}" if seen else "n/a"


async def _worker(client, url, pool, labels, until, phase, tally: VisionTally, seed: int, headers) -> None:
    rng = random.Random(seed)

    def request() -> tuple[dict[str, Any], list[int]]:
        pick = [rng.randrange(len(pool)) for _ in range(rng.randint(1, 4))]
        return image_request([pool[i] for i in pick]), pick

    def answered(response: httpx.Response, pick: list[int]) -> None:
        outputs = {o["name"]: o["data"] for o in response.json().get("outputs", [])}
        classes = outputs.get("class", [])
        tally.seen[phase] += len(pick)
        tally.right[phase] += sum(str(labels[i]) == str(c) for i, c in zip(pick, classes))

    interval = _WORKERS / _RATE_PER_S
    await paced_posts(client, url, headers, until, interval, request, answered, tally.errors, tally.fallbacks)


async def replay_images(
    layout: Layout, model: str, seconds: float, headers: dict[str, str], watch: Callable[..., Coroutine[Any, Any, None]]
) -> VisionTally:
    """Send ``seconds`` of images to ``model``: half as trained, half darker and rotated; ``watch``
    (the demo's drift watcher) marks in the tally when the monitor flags drift."""
    digits = _digits()
    _, test_idx = digits.split()
    phases = [
        ("as trained", *digits.render(test_idx, seed=404)),
        ("darker", *digits.render(test_idx, seed=505, shift="darker")),
        ("rotated", *digits.render(test_idx, seed=606, shift="rotated")),
    ]
    tally = VisionTally()
    url = f"{layout.gateway_url}/v2/models/{model}/infer"
    started = time.monotonic()
    change_at = started + seconds / 2
    async with httpx.AsyncClient(
        timeout=10.0, limits=httpx.Limits(max_connections=_WORKERS + 2), trust_env=False
    ) as client:
        watcher = asyncio.create_task(watch(client, f"{layout.monitor_url}/status/{model}", started, change_at, tally))
        spans = [(0.0, 0.5), (0.5, 0.75), (0.75, 1.0)]
        for number, ((phase, images, labels), (_, end)) in enumerate(zip(phases, spans)):
            until = started + seconds * end
            print(f"vision phase {number + 1}: {phase} images until t={seconds * end:.0f} s ...", flush=True)
            await asyncio.gather(
                *(
                    _worker(client, url, images, labels, until, phase, tally, seed=31 * number + i, headers=headers)
                    for i in range(_WORKERS)
                )
            )
            print(
                f"  accuracy {phase}: {tally.accuracy(phase)}  fallbacks {sum(tally.fallbacks.values())}  "
                f"errors {sum(tally.errors.values())}",
                flush=True,
            )
        await asyncio.sleep(2.0)  # the tap sends in batches
        watcher.cancel()
    return tally


def summarize_images(layout: Layout, model: str, tally: VisionTally, report: dict[str, Any]) -> None:
    print(f"\nvision ({model}):")
    for phase in tally.seen:
        print(f"  accuracy {phase:<11} {tally.accuracy(phase)}")
    fallbacks = ", ".join(f"{reason} {count}" for reason, count in tally.fallbacks.items()) or "none"
    print(f"  fallbacks           {sum(tally.fallbacks.values())} ({fallbacks})")
    if tally.errors:
        print(f"  failed requests     {sum(tally.errors.values())} ({dict(tally.errors)})")
    for shadow in report.get("shadows", []):
        agreement = shadow.get("agreement")
        shown = f"{agreement:.1%}" if agreement is not None else "n/a"
        print(f"  shadow {shadow['variant']:<12} agreement {shown} over {shadow.get('compared', 0)} compared")
    if tally.drift_flagged_at is not None:
        print(f"  drift flagged       at t={tally.drift_flagged_at:.0f} s on {tally.drift_detail}")
    else:
        print("  drift flagged       not during the demo (see the report)")
    print(f"  drift report        {layout.monitor_url}/report/{model}")
