"""The in-process ceiling: the model's ``predict`` alone, no server, at given batch sizes.

    .venv/bin/python bench/ceiling.py MODEL_DIR --batch 9 --batch 32 [--seconds 3] [--row '[0.1, ...]']

Loads the MLflow model with ``mlflow.pyfunc`` (what the model server calls) and times
``predict`` on ready frames of n rows, back to back for ``--seconds`` per size. With ``--row``
every row of the frame is that row, as in the servers' batches under the benchmark's load (wrk
sends one body): a forest walks the same paths for equal rows, about twice as fast as for n
different rows, so the ceiling must be taken on the rows the servers saw. Prints JSON,
``{"n": {"rowsPerS": ..., "msPerCall": ...}}``: rows per second is the most single-row requests
per second any server calling this predict at batch n could answer on this core.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np
import pandas as pd

FEATURES = [f"f{i}" for i in range(8)]


def time_predict(model: object, rows: int, seconds: float, row: list[float] | None = None) -> dict[str, float]:
    values = np.tile(row, (rows, 1)) if row else np.random.default_rng(rows).normal(size=(rows, len(FEATURES)))
    frame = pd.DataFrame(values, columns=FEATURES)
    warm_until = time.monotonic() + min(1.0, seconds)
    while time.monotonic() < warm_until:  # caches, allocator, the CPU's clock after loading
        model.predict(frame)  # type: ignore[attr-defined]
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        model.predict(frame)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - t0)
    per_call = statistics.median(times)
    return {"rowsPerS": rows / per_call, "msPerCall": per_call * 1000, "calls": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--batch", type=int, action="append", required=True, help="rows per predict (repeat)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of calls per batch size")
    parser.add_argument("--row", type=json.loads, default=None, help="every row is this one (a JSON list)")
    args = parser.parse_args()
    import mlflow.pyfunc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mlflow.pyfunc.load_model(args.model_dir)
    print(json.dumps({str(n): time_predict(model, n, args.seconds, args.row) for n in args.batch}))


if __name__ == "__main__":
    main()
