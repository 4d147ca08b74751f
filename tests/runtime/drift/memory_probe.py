"""The drift monitor's memory over 300,000 rows, measured in a process of its own.

``python -m tests.runtime.drift.memory_probe`` prints one JSON line. tracemalloc sees every
allocation of its process, every thread's; in a test worker, what other test files left running
there allocates during the window too, so the measure runs where nothing else does.
"""

from __future__ import annotations

import json
import tracemalloc

from runtime.drift.monitor import HISTORY, VariantMonitor
from runtime.spec import DriftSpec
from tests.runtime.drift.conftest import make_rows, predict, reference_profile


def batches(count: int):
    pool = [make_rows(2_500, seed=s) for s in range(8)]
    for i in range(count):
        rows = pool[i % len(pool)]
        yield {c: rows[c].to_numpy() for c in rows.columns}, {"fraud": predict(rows)}


def measure() -> dict[str, int]:
    monitor = VariantMonitor("fraud", "v3", reference_profile(), DriftSpec(window_rows=5_000), reservoir=2_000)
    for inputs, outputs in batches(2 * (HISTORY + 2)):  # past the point where the history is full
        monitor.ingest(inputs, outputs)
    tracemalloc.start()
    try:
        size_before = len(json.dumps(monitor.to_dict()))
        memory_before = tracemalloc.get_traced_memory()[0]
        for inputs, outputs in batches(120):  # 300,000 more rows, 60 more windows
            monitor.ingest(inputs, outputs)
        del inputs, outputs  # the last batch, held by the loop's names, not by the monitor
        memory_after = tracemalloc.get_traced_memory()[0]
        size_after = len(json.dumps(monitor.to_dict()))
    finally:
        tracemalloc.stop()
    return {
        "rows_seen": monitor.rows_seen,
        "windows_done": monitor.windows_done,
        "size_before": size_before,
        "size_after": size_after,
        "memory_before": memory_before,
        "memory_after": memory_after,
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
