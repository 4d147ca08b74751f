"""BentoML peer: a batchable API (``batchable=True``, ``max_batch_size=32``) on the same model.

    BENCH_MODEL_DIR=... .bench/peers/bentoml-venv/bin/bentoml serve bentoml_service:RandomForest \
        --working-dir bench/peers --host 127.0.0.1 --port PORT

A batchable API takes one batchable argument, so this peer is sent BentoML's own request, one
row as ``{"rows": [[f0, ..., f7]]}`` (smaller to parse than the V2 body the others get), and
answers ``[prediction]``. BentoML picks its wait itself (an optimizer fitted to the batch times
it saw); ``max_latency_ms`` is a budget, not a wait window: a request whose estimated wait plus
batch time would pass it gets 503. It is set to 1000 ms (BentoML's own example) so that no
request is shed at concurrency 32; ``BENCH_MAX_LATENCY_MS`` changes it.
"""

from __future__ import annotations

import os

import bentoml
import numpy as np
from v2rows import load

FEATURES = [f"f{i}" for i in range(8)]


@bentoml.service(workers=1, traffic={"timeout": 30}, logging={"access": {"enabled": False}})
class RandomForest:
    def __init__(self) -> None:
        self.model = load(os.environ["BENCH_MODEL_DIR"])

    @bentoml.api(
        batchable=True,
        max_batch_size=int(os.environ.get("BENCH_MAX_BATCH", "32")),
        max_latency_ms=int(os.environ.get("BENCH_MAX_LATENCY_MS", "1000")),
    )
    def predict(self, rows: np.ndarray) -> np.ndarray:
        import pandas as pd

        return np.asarray(self.model.predict(pd.DataFrame(rows, columns=FEATURES)))
