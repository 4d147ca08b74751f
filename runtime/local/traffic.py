"""Realistic requests for the local platform: the training script's transactions as V2 bodies.

Normal traffic comes from the same generator the demo models were trained on (new seeds), so it
matches the reference profiles; drifted traffic shifts it the way a fraud wave would: larger
amounts, more foreign cards, more night-time purchases.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from runtime.local.seed import TRAINING_SCRIPT
from runtime.protocol import datatype_of

__all__ = ["v2_request", "normal_rows", "drifted_rows", "curl_example"]


@cache
def _training_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ml_serving_train_fraud", TRAINING_SCRIPT)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{TRAINING_SCRIPT} is missing; it generates the demo traffic")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
