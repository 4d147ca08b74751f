"""Predict latency by OpenMP thread count, on an idle machine and beside busy processes.

    .venv/bin/python bench/threads.py [--calls 300] [--threads 1,N]

The fraud example's pipeline (one-hot encoder and HistGradientBoosting, examples/train_fraud.py,
400 rows) is trained and called in a fresh interpreter per row of the table, with
``OMP_NUM_THREADS`` (and the BLAS variables) set before numpy loads, as the model server sets
them (runtime/modelserver/threads.py). Each row times ``predict_proba`` on 1 row and on 32 rows,
``--calls`` times each, once with the machine otherwise idle and once beside one busy process
per core (a pure-Python loop each), which is what a shared node or a CPU quota below the thread
count does to the threads. N defaults to the cores this process may use. Writes
.bench/threads/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runtime.cores import usable_cores  # noqa: E402
from runtime.modelserver.threads import THREAD_ENV  # noqa: E402

OUT = REPO / ".bench" / "threads"

_PROBE = """
import json, sys, time
sys.path.insert(0, {examples!r})
import train_fraud
frame, label = train_fraud.synthetic_transactions(400, 101)
started = time.perf_counter()
model = train_fraud.train(frame, label, 101)
fit_s = time.perf_counter() - started
result = {{"fit_s": fit_s}}
for rows in (1, 32):
    batch = frame.head(rows)
    model.predict_proba(batch)
    times = []
    for _ in range({calls}):
        started = time.perf_counter()
        model.predict_proba(batch)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    result[str(rows)] = {{"p50_ms": times[len(times) // 2], "p99_ms": times[int(len(times) * 0.99) - 1], "max_ms": times[-1]}}
print(json.dumps(result))
"""


def measure(threads: int, calls: int) -> dict:
    env = {**os.environ, **{name: str(threads) for name in THREAD_ENV}}
    probe = _PROBE.format(examples=str(REPO / "examples"), calls=calls)
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"the probe failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    cores = usable_cores()
    parser = argparse.ArgumentParser(prog="bench/threads.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--threads", default=f"1,{cores}", help="comma-separated thread counts")
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.threads.split(",")})
    rows = []
    for load in ("idle", f"{cores} busy"):
        hogs = []
        if load != "idle":
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
        try:
            for threads in counts:
                print(f"  {load}, {threads} thread(s) ...", file=sys.stderr, flush=True)
                rows.append({"load": load, "threads": threads, **measure(threads, args.calls)})
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
    print(
        f"\nfraud pipeline predict_proba, {args.calls} calls each, {cores} usable cores, load average now {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'machine':<10} {'threads':>7} {'fit s':>7} {'1 row p50':>10} {'p99':>8} {'max':>8} {'32 rows p50':>12} {'p99':>8} {'max':>8}"
    )
    for row in rows:
        one, many = row["1"], row["32"]
        print(
            f"{row['load']:<10} {row['threads']:>7} {row['fit_s']:>7.2f} {one['p50_ms']:>10.2f} {one['p99_ms']:>8.2f}"
            f" {one['max_ms']:>8.1f} {many['p50_ms']:>12.2f} {many['p99_ms']:>8.2f} {many['max_ms']:>8.1f}"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps({"cores": cores, "calls": args.calls, "rows": rows}, indent=2))
    print(f"\nwrote {OUT / 'results.json'} (times in ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
