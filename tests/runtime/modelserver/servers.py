"""Real model servers for the tests: a registered sklearn model and `python -m runtime.modelserver`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestRegressor

from runtime.registry.register import sklearn_requirements
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[3]
FEATURES = ["amount", "count", "score"]


def features(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(100, 30, rows),
            "count": rng.integers(0, 20, rows).astype("int64"),
            "score": rng.uniform(0, 1, rows),
        }
    )


def register_model(tracking_uri: str, artifacts: Path, name: str = "fraud") -> str:
    """Train a small forest, log it with its signature and register it; returns its models:/ URI."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment("modelserver-tests", artifact_location=artifacts.as_uri())
    )
    data = features(400, seed=0)
    target = data["amount"] * 0.1 + data["count"] + data["score"] * 5
    model = RandomForestRegressor(n_estimators=8, random_state=0).fit(data, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow hints about integer columns and pickling
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(data, model.predict(data)),
                skops_trusted_types=["sklearn.tree._tree.Tree"],
                registered_model_name=name,
                pip_requirements=sklearn_requirements(),
            )
    return f"models:/{name}/{info.registered_model_version}"


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def wait_ready(process: subprocess.Popen, url: str, log: Path | None, timeout: float) -> None:
    """Return once ``{url}/v2/health/ready`` answers 200; raise with the log if it exits or times out."""

    def output() -> str:
        return log.read_text(errors="replace") if log is not None else "(output not kept)"

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{output()}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise RuntimeError(f"{process.args!r} not ready within {timeout:g} s:\n{output()}")


def start_server(args: list[str], log: Path, env: dict[str, str] | None = None, timeout: float = 90) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "runtime.modelserver", "--http_port", str(port), *args]
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    wait_ready(process, server.url, log, timeout)
    return server


def start_registered_server(registry: dict[str, str], log: Path, timeout: float = 90) -> Server:
    """The ``fraud_registry`` fixture's model served batched (8 rows, 5 ms), logging to ``log``."""
    return start_server(
        ["--model_name", "fraud", "--model_dir", registry["uri"], "--max_batch_size", "8", "--max_latency_ms", "5"],
        log,
        env={"MLFLOW_TRACKING_URI": registry["tracking_uri"]},
        timeout=timeout,
    )


def v2_columns(frame: pd.DataFrame, request_id: str | None = None) -> dict:
    """A V2 request body with one tensor per column."""
    inputs = []
    for column in frame.columns:
        datatype = "INT64" if frame[column].dtype.kind == "i" else "FP64"
        inputs.append({"name": column, "datatype": datatype, "shape": [len(frame)], "data": frame[column].tolist()})
    body: dict[str, Any] = {"inputs": inputs}
    if request_id is not None:
        body["id"] = request_id
    return body
