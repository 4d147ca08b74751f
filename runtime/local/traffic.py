"""Realistic requests for the local platform: the training script's transactions as V2 bodies.

Normal traffic comes from the same generator the demo models were trained on (new seeds), so it
matches the reference profiles; drifted traffic shifts it the way a fraud wave would: larger
amounts, more foreign cards, more night-time purchases.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd

from runtime.local.seed import TRAINING_SCRIPT
from runtime.protocol import datatype_of

T = TypeVar("T")

__all__ = ["v2_request", "normal_rows", "drifted_rows", "curl_example", "load_script", "paced_posts"]


@cache
def load_script(path: Path, purpose: str) -> ModuleType:
    """An example script (``examples/*.py``) as a module, loaded once; ``purpose`` says what the
    demo needs it for when it is missing."""
    spec = importlib.util.spec_from_file_location(f"ml_serving_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{path} is missing; it {purpose}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _training_script() -> ModuleType:
    return load_script(TRAINING_SCRIPT, "generates the demo traffic")


async def paced_posts(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    until: float,
    interval_s: float,
    request: Callable[[], tuple[dict[str, Any], T]],
    answered: Callable[[httpx.Response, T], None],
    errors: Counter[str],
    fallbacks: Counter[str],
) -> None:
    """Post ``request()``'s body every ``interval_s`` until ``until`` (monotonic). A transport
    error or a status other than 200 is counted in ``errors``, a fallback answer in ``fallbacks``
    by its reason; any other answer goes to ``answered`` with what ``request`` returned beside
    the body."""
    while time.monotonic() < until:
        began = time.monotonic()
        body, sent = request()
        try:
            response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] += 1
        else:
            if response.status_code != 200:
                errors[f"HTTP {response.status_code}"] += 1
            elif reason := response.headers.get("x-ml-serving-fallback"):
                fallbacks[reason] += 1
            else:
                answered(response, sent)
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - began)))


def v2_request(frame: pd.DataFrame, request_id: str | None = None) -> dict[str, Any]:
    """One V2 infer body with a 1-D tensor per column."""
    inputs = []
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype == object or values.dtype.kind in "OSU" or not isinstance(values.dtype, np.dtype):
            values = values.astype(object)
        datatype = datatype_of(values.dtype)
        inputs.append({"name": str(name), "datatype": datatype, "shape": [len(frame)], "data": values.tolist()})
    body: dict[str, Any] = {"inputs": inputs}
    if request_id:
        body["id"] = request_id
    return body


def normal_rows(rows: int, seed: int) -> pd.DataFrame:
    frame, _ = _training_script().synthetic_transactions(rows, seed)
    return frame


def drifted_rows(rows: int, seed: int) -> pd.DataFrame:
    frame = normal_rows(rows, seed).copy()
    rng = np.random.default_rng(seed + 1_000_003)
    frame["amount"] = np.round(frame["amount"] * rng.uniform(3.0, 6.0, rows), 2)
    frame["foreign"] = rng.random(rows) < 0.45
    frame["hour"] = np.where(rng.random(rows) < 0.5, rng.integers(0, 5, rows), frame["hour"])
    frame["distance_km"] = np.round(frame["distance_km"] * 4 + rng.exponential(80.0, rows), 2)
    return frame


def curl_example(gateway_url: str, model: str, token_file: str | None = None) -> str:
    body = json.dumps(v2_request(normal_rows(2, seed=2024)), separators=(",", ":"))
    auth = f' -H "Authorization: Bearer $(cat {token_file})"' if token_file else ""
    return f"curl -s{auth} -H 'Content-Type: application/json' {gateway_url}/v2/models/{model}/infer -d '{body}'"
