"""Drift detection benchmark: our monitor against evidently, NannyML and plain scipy + BH.

    .venv/bin/python bench/drift.py [--sizes 10000,1000000,10000000] [--seeds 50] [--cap-s 900]

Same generated data for every tool: 30 numeric features of mixed distributions and 3
categoricals (5, 20, 200 categories); 100k reference rows; current sets of each size, without
shift and with a 0.1-std mean shift on 3 features. Each run is its own subprocess (peak RSS is
that process's own), evidently and NannyML in their own virtualenvs under .bench/ (evidently
0.7 with pandas 2.3; NannyML with statsmodels). Our monitor streams the current rows in chunks;
the peers need the whole frame. Wall and CPU time exclude generating the data (CPU time is the
steadier figure on a shared machine). A run over the time cap
or the memory cap is stopped and reported as such. Then the false-alarm rate (any feature
flagged on no-shift data) and the detection rate (all 3 shifted features flagged) over the seeds
at 10k rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PYTHON = {
    "ours": sys.executable,
    "scipy": sys.executable,
    "evidently": str(ROOT / ".bench/evidently/bin/python"),
    "nannyml": str(ROOT / ".bench/nannyml/bin/python"),
}
NUMERIC = [f"num_{i:02d}" for i in range(30)]
CATEGORIES = {"cat_5": 5, "cat_20": 20, "cat_200": 200}
SHIFTED = ("num_00", "num_01", "num_02")
REF_ROWS, CHUNK, LEVEL = 100_000, 200_000, 0.05
_STD = [
    1.0,
    np.sqrt((np.e**0.25 - 1) * np.e**0.25),
    1.0,
    1 / np.sqrt(12),
    np.sqrt(2.0),
    np.sqrt(5 / 3),
    np.sqrt(10 / (49 * 8)),
    np.sqrt(5.0),
    2.0,
    3.0,
]


def _numeric(kind: int, rng: np.random.Generator, n: int) -> np.ndarray:
    draw = [
        lambda: rng.normal(0, 1, n),
        lambda: rng.lognormal(0, 0.5, n),
        lambda: rng.exponential(1.0, n),
        lambda: rng.uniform(0, 1, n),
        lambda: rng.gamma(2.0, 1.0, n),
        lambda: rng.standard_t(5, n),
        lambda: rng.beta(2, 5, n),
        lambda: rng.normal(0, 1, n) + np.where(rng.random(n) < 0.5, -2.0, 2.0),
        lambda: rng.poisson(4.0, n).astype(np.float64),
        lambda: rng.normal(10, 3, n),
    ]
    return draw[kind]()


def chunks(seed: int, stream: int, rows: int, shift: float):
    """The rows of one data set, chunk by chunk, each chunk from its own seeded generator."""
    names = {c: np.array([f"{c}_{k}" for k in range(k_)], dtype=object) for c, k_ in CATEGORIES.items()}
    probs = {c: (w := 1 / np.arange(1, k_ + 1) ** 1.1) / w.sum() for c, k_ in CATEGORIES.items()}
    for index, start in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - start)
        rng = np.random.default_rng([seed, stream, index])
        frame = {name: _numeric(i % 10, rng, n) for i, name in enumerate(NUMERIC)}
        for name in SHIFTED:
            frame[name] += shift * _STD[NUMERIC.index(name) % 10]
        frame.update({c: names[c][rng.choice(len(names[c]), n, p=probs[c])] for c in CATEGORIES})
        yield pd.DataFrame(frame)


def whole(seed: int, stream: int, rows: int, shift: float) -> pd.DataFrame:
    return pd.concat(list(chunks(seed, stream, rows, shift)), ignore_index=True)


# --- one tool, one data set: each returns the set of flagged features --------------------------------


class Clock:
    """Wall and CPU seconds of the measured parts only (data generation excluded)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *_) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def run_ours(seed: int, rows: int, shift: float) -> tuple[set[str], Clock]:
    sys.path.insert(0, str(ROOT))
    from runtime.drift.monitor import VariantMonitor
    from runtime.drift.profile import build_profile
    from runtime.spec import DriftSpec

    reference, clock = whole(seed, 0, REF_ROWS, 0.0), Clock()
    with clock:
        profile = build_profile(reference, seed=seed)
    del reference
    monitor = VariantMonitor(
        "bench", "v1", profile, DriftSpec(window_rows=rows, p_value=LEVEL, drift_share=0.5), seed=seed
    )
    reports = []
    for chunk in chunks(seed, 1, rows, shift):
        columns = {name: chunk[name].to_numpy() for name in chunk.columns}
        with clock:
            reports += monitor.ingest(columns)
    return {f.name for f in reports[0].features if f.drifted}, clock


def run_scipy(seed: int, rows: int, shift: float) -> tuple[set[str], Clock]:
    from scipy import stats

    reference, current, clock = whole(seed, 0, REF_ROWS, 0.0), whole(seed, 1, rows, shift), Clock()
    clock.__enter__()
    p = []
    for name in NUMERIC:
        p.append(stats.ks_2samp(reference[name].to_numpy(), current[name].to_numpy()).pvalue)
    for name in CATEGORIES:
        table = pd.concat([reference[name].value_counts(), current[name].value_counts()], axis=1).fillna(0)
        p.append(stats.chi2_contingency(table.to_numpy().T, correction=False).pvalue)
    flagged = stats.false_discovery_control(np.array(p), method="bh") <= LEVEL
    clock.__exit__()
    return {n for n, f in zip([*NUMERIC, *CATEGORIES], flagged) if f}, clock


def run_evidently(seed: int, rows: int, shift: float) -> tuple[set[str], Clock]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference, current, clock = whole(seed, 0, REF_ROWS, 0.0), whole(seed, 1, rows, shift), Clock()
    with clock:
        snapshot = Report([DataDriftPreset()]).run(current, reference)
    flagged = set()
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold = metric["value"], config["threshold"]
            if (value < threshold) if "p_value" in config["method"] else (value >= threshold):
                flagged.add(config["column"])
    return flagged, clock


def run_nannyml(seed: int, rows: int, shift: float) -> tuple[set[str], Clock]:
    import nannyml

    reference, current, clock = whole(seed, 0, REF_ROWS, 0.0), whole(seed, 1, rows, shift), Clock()
    with clock:
        calculator = nannyml.UnivariateDriftCalculator(column_names=[*NUMERIC, *CATEGORIES])
        calculator.fit(reference)
        result = calculator.calculate(current).filter(period="analysis").to_df()
    alerts = result.loc[:, [c for c in result.columns if c[2] == "alert"]].any()
    return {c[0] for c, alert in alerts.items() if alert}, clock


RUNS = {"ours": run_ours, "scipy": run_scipy, "evidently": run_evidently, "nannyml": run_nannyml}


def worker(tool: str, mode: str, rows: int, shift: float, seeds: int) -> None:
    if mode == "single":
        flagged, clock = RUNS[tool](0, rows, shift)
        out = {"wall_s": clock.wall, "cpu_s": clock.cpu, "flagged": sorted(flagged)}
    else:
        false_alarms = detections = done = 0
        for seed in range(seeds):
            false_alarms += bool(RUNS[tool](seed, rows, 0.0)[0])
            detections += set(SHIFTED) <= RUNS[tool](seed, rows, shift)[0]
            done += 1
            print(
                json.dumps(
                    {
                        "progress": done,
                        "false_alarm": false_alarms / done,
                        "detection": detections / done,
                        "seeds": done,
                    }
                ),
                flush=True,
            )
        out = {"false_alarm": false_alarms / done, "detection": detections / done, "seeds": done}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out), flush=True)


# --- the parent: one subprocess per run, capped in time and memory ------------------------------------


def launch(tool: str, mode: str, rows: int, shift: float, seeds: int, cap_s: float, cap_mb: float) -> dict:
    import psutil

    command = [
        PYTHON[tool],
        __file__,
        "--worker",
        tool,
        "--mode",
        mode,
        "--rows",
        str(rows),
        "--shift",
        str(shift),
        "--seeds",
        str(seeds),
    ]
    if not Path(PYTHON[tool]).exists():
        return {"error": f"no virtualenv at {PYTHON[tool]}"}
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watched, peak, stopped = psutil.Process(proc.pid), 0.0, None
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            break
        if time.monotonic() - started > cap_s or peak > cap_mb:
            stopped = f"stopped after {time.monotonic() - started:.0f} s at {peak:.0f} MB (cap {cap_s:.0f} s / {cap_mb:.0f} MB)"
            proc.kill()
            break
        time.sleep(0.2)
    out, _ = proc.communicate()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if stopped and lines and "progress" in lines[-1]:  # rates: keep the seeds done before the cap
        return {**lines[-1], "peak_rss_mb": peak, "note": stopped}
    if stopped:
        return {"error": stopped}
    if not lines or "progress" in lines[-1]:
        return {"error": f"exited with {proc.returncode}"}
    return lines[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker"), parser.add_argument("--mode", default="single")
    parser.add_argument("--rows", type=int, default=10_000), parser.add_argument("--shift", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--sizes", default="10000,1000000,10000000")
    parser.add_argument("--tools", default="ours,scipy,evidently,nannyml")
    (
        parser.add_argument("--cap-s", type=float, default=900.0),
        parser.add_argument("--cap-mb", type=float, default=9000.0),
    )
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.mode, args.rows, args.shift, args.seeds)
    tools = args.tools.split(",")
    load_start = os.getloadavg()[0]
    rows_out: list[tuple[int, float, str, dict[str, Any]]] = []
    for rows in [int(s) for s in args.sizes.split(",")]:
        for shift in (0.0, 0.1):
            for tool in tools:
                print(f"... {tool}: {rows:,} rows, shift {shift}", file=sys.stderr, flush=True)
                if shift and "error" in next(r for n, s_, t, r in rows_out if (n, s_, t) == (rows, 0.0, tool)):
                    rows_out.append((rows, shift, tool, {"error": "skipped: the no-shift run did not finish"}))
                    continue
                result = launch(tool, "single", rows, shift, 1, args.cap_s, args.cap_mb)
                rows_out.append((rows, shift, tool, result))
                print(f"    {result}", file=sys.stderr, flush=True)
    rates = {}
    for tool in tools:
        print(f"... {tool}: rates over {args.seeds} seeds at 10,000 rows", file=sys.stderr, flush=True)
        rates[tool] = launch(tool, "rates", 10_000, 0.1, args.seeds, args.cap_s, args.cap_mb)
        print(f"    {rates[tool]}", file=sys.stderr, flush=True)
    print(
        f"\nload average (1 min) at start {load_start:.1f}, at end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"\n{'rows':>10} {'shift':>5} {'tool':<10} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}  verdict (features flagged of 33; "
        f"shifted found of 3)"
    )
    for rows, shift, tool, r in rows_out:
        if "error" in r:
            print(f"{rows:>10,} {shift:>5} {tool:<10} {'-':>8} {'-':>8} {'-':>8}  did not finish: {r['error']}")
            continue
        found = len(set(SHIFTED) & set(r["flagged"]))
        print(
            f"{rows:>10,} {shift:>5} {tool:<10} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['peak_rss_mb']:>8.0f}  "
            f"{len(r['flagged'])} flagged, {found}/3 shifted"
        )
    print(f"\n{'tool':<10} {'false alarm':>12} {'detection':>10} {'seeds':>6}   (level {LEVEL}, 10,000 rows)")
    for tool, r in rates.items():
        if "error" in r:
            print(f"{tool:<10} did not finish: {r['error']}")
        else:
            print(f"{tool:<10} {r['false_alarm']:>12.0%} {r['detection']:>10.0%} {r['seeds']:>6}   {r.get('note', '')}")


if __name__ == "__main__":
    main()
