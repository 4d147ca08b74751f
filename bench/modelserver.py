"""Model server benchmark: ours beside a naive wrapper, MLServer, Ray Serve, BentoML and LitServe.

    .venv/bin/python bench/modelserver.py [--duration 10] [--rounds 3] [--skip-mlserver] [--skip-peers]

Everything is created under .bench/: a RandomForest (100 trees) MLflow model; MLServer 1.7 with
its MLflow runtime in its own virtualenv (it cannot share one with kserve; uvloop is pinned to
0.21, or its worker fails to start); Ray Serve, BentoML and LitServe in one virtualenv each,
from the pins in bench/peers/*.txt (bench/modelserver_peers.py). Every server loads the same
model file with ``mlflow.pyfunc`` and batches up to 32 rows with a 10 ms wait (BentoML picks
its own wait). Load comes from wrk (Debian package ``wrk``) pinned to CPU 0; each server, its
whole process tree, is pinned to CPU 1. They run one at a time, each started for its turn and
stopped after it, so that no idle peer shares the core; ``--rounds`` runs each (medians
reported). Every request carries one row. After each concurrency-32 run of our batched server,
the in-process ceiling: the model's ``predict`` alone (bench/ceiling.py) at the mean batch size
it formed; and row (h), the HTTP floor (bench/http_floor.py): uvicorn as the model server runs
it, answering a fixed V2 answer with no V2 work, what HTTP alone costs a request on that core.
Prints one table and the target ratios. The machine may be shared: run it twice
before trusting a close call.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.modelserver_peers import MODEL, Peer, new_peers  # noqa: E402
from bench.processes import adopt_orphans, on_signals, pinned, say, stop_all, stop_tree  # noqa: E402
from bench.wrk_output import failures, found, ms, wrk_argv  # noqa: E402
from tests.ports import free_port  # noqa: E402

WORK = REPO / ".bench" / "modelserver"
MLSERVER_VENV = WORK / "mlserver-venv"
MLSERVER_PINS = ["mlserver==1.7.1", "mlserver-mlflow==1.7.1", "uvloop==0.21.0", "scikit-learn==1.9.1"]
FEATURES = [f"f{i}" for i in range(8)]
SERVER_CPU, LOAD_CPU = "1", "0"


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    say("installing wrk (apt-get install -y wrk)")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)


def ensure_mlserver() -> Path:
    binary = MLSERVER_VENV / "bin" / "mlserver"
    if binary.exists():
        return binary
    say(f"creating MLServer's virtualenv in {MLSERVER_VENV} ({', '.join(MLSERVER_PINS)}); this takes a few minutes")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(MLSERVER_VENV)], check=True)
    subprocess.run([str(MLSERVER_VENV / "bin" / "pip"), "install", "-q", *MLSERVER_PINS], check=True)
    return binary


def train_model() -> tuple[Path, pd.DataFrame, np.ndarray]:
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.normal(size=(2000, len(FEATURES))), columns=FEATURES)
    target = (data["f0"] + data["f1"] * data["f2"] > 0).astype("int64")
    model_dir = WORK / "model"
    if not (model_dir / "MLmodel").exists():
        say("training RandomForestClassifier(n_estimators=100) and saving it as an MLflow model")
        model = RandomForestClassifier(n_estimators=100, random_state=0).fit(data, target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # cloudpickle so that MLServer's own MLflow version loads the very same file
            mlflow.sklearn.save_model(
                model,
                str(model_dir),
                signature=infer_signature(data, model.predict(data)),
                serialization_format="cloudpickle",
            )
    probe = data.iloc[:1]
    return model_dir, probe, mlflow.pyfunc.load_model(str(model_dir)).predict(probe)


def v2_body(row: pd.DataFrame) -> dict:
    inputs = [{"name": c, "datatype": "FP64", "shape": [len(row)], "data": row[c].tolist()} for c in row.columns]
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def wrk(url: str, connections: int, duration_s: float, script: Path) -> Load:
    command = pinned(LOAD_CPU, wrk_argv(url, connections, duration_s, script))
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60).stdout
    rps = float(found(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = ms(found(r"^\s*50%\s+(\S+)", out, re.M).group(1))
    p99 = ms(found(r"^\s*99%\s+(\S+)", out, re.M).group(1))
    return Load(rps, p50, p99, failures(out))


def wait_answer(peer: Peer, process: subprocess.Popen, body: dict, log: Path, timeout_s: float) -> httpx.Response:
    """The peer's first 200 answer to ``body``; raises with its log if it exits or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{peer.label} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            answer = httpx.post(peer.url, json=body, timeout=30)
            if answer.status_code == 200:
                return answer
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{peer.label} not ready within {timeout_s:g} s:\n{log.read_text(errors='replace')}")


def start(peer: Peer, body: dict, log: Path, timeout_s: float = 300) -> tuple[subprocess.Popen, httpx.Response]:
    """Start ``peer`` pinned to the servers' core (its whole tree: children inherit the mask)."""
    with log.open("w") as handle:
        process = subprocess.Popen(
            pinned(SERVER_CPU, peer.command),
            cwd=peer.cwd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **peer.env},
        )
    try:
        return process, wait_answer(peer, process, body, log, timeout_s)
    except BaseException:
        stop_tree(process)
        raise


def predictions(answer: httpx.Response) -> list:
    """The predicted values of a V2 answer, or of a plain JSON list (BentoML's)."""
    document = answer.json()
    return document if isinstance(document, list) else document["outputs"][0]["data"]


def batch_rows(peer: Peer) -> tuple[float, float]:
    """(sum, count) of our batcher's rows-per-predict histogram, from the server's /metrics."""
    text = httpx.get(f"http://127.0.0.1:{peer.port}/metrics", timeout=10).text
    found = dict(re.findall(r'^ml_serving_batch_rows_(sum|count)\{model="[^"]*"\} ([\d.e+]+)$', text, re.M))
    return float(found.get("sum", 0.0)), float(found.get("count", 0.0))


def mlserver_folder(model_dir: Path, port: int) -> Path:
    folder = WORK / "mlserver-models"
    (folder / MODEL).mkdir(parents=True, exist_ok=True)
    settings = {
        "debug": False,
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model = {
        "name": MODEL,
        "implementation": "mlserver_mlflow.MLflowRuntime",
        "max_batch_size": 32,
        "max_batch_time": 0.01,
        "parameters": {"uri": str(model_dir)},
    }
    (folder / MODEL / "model-settings.json").write_text(json.dumps(model))
    return folder


def peers(model_dir: Path, mlserver: Path | None, row: list[float], new: bool) -> list[Peer]:
    def ours(port: int) -> list[str]:
        return [sys.executable, "-m", "runtime.modelserver", "--model_name", MODEL, "--model_dir", str(model_dir),
                "--http_port", str(port)]  # fmt: skip

    a, b, c, d, h = (free_port() for _ in range(5))
    found = [
        Peer(
            "(a) naive FastAPI + pyfunc",
            [sys.executable, str(REPO / "bench" / "naive_server.py"), str(model_dir), str(a)],
            a,
        ),
        Peer("(b) ours, no batching", ours(b), b),
        Peer("(c) ours, batching 32/10ms", [*ours(c), "--max_batch_size", "32", "--max_latency_ms", "10"], c),
        Peer(
            "(h) HTTP floor: uvicorn, no V2 work",
            [sys.executable, str(REPO / "bench" / "http_floor.py"), str(model_dir), str(h)],
            h,
        ),
    ]
    if mlserver is not None:
        found.append(
            Peer("(d) MLServer 1.7, batching 32/10ms", [str(mlserver), "start", str(mlserver_folder(model_dir, d))], d)
        )
    if new:
        found += new_peers(model_dir, row, [free_port() for _ in range(3)])
    return found


def median_load(loads: list[Load]) -> Load:
    return Load(
        float(np.median([x.rps for x in loads])),
        float(np.median([x.p50_ms for x in loads])),
        float(np.median([x.p99_ms for x in loads])),
        sum(x.errors for x in loads),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of load per server, concurrency and round"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all servers; the table shows medians")
    parser.add_argument("--skip-mlserver", action="store_true", help="leave out peer (d)")
    parser.add_argument("--skip-peers", action="store_true", help="leave out Ray Serve, BentoML and LitServe (e-g)")
    parser.add_argument(
        "--only", default=None, help="letters of the servers to run, e.g. c,g (a quick look; the targets need all)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the medians as JSON (python -m components.cost --bench-results reads replicaRpsPerCpu)",
    )
    args = parser.parse_args()
    adopt_orphans()  # Ray's and BentoML's workers leave the process group: stop_all finds them
    on_signals()
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    mlserver = None if args.skip_mlserver else ensure_mlserver()
    model_dir, probe, expected = train_model()
    row = probe.iloc[0].tolist()
    servers = peers(model_dir, mlserver, row, not args.skip_peers)
    if args.only:
        servers = [peer for peer in servers if peer.label[1] in args.only.split(",")]
    samples: dict[str, dict[int, list[Load]]] = {peer.label: {1: [], 32: []} for peer in servers}
    batch = [0.0, 0.0]  # rows and predict calls of (c) during its concurrency-32 runs
    cpu = [0.0, 0.0, 0.0]  # (c)'s CPU seconds on its event loop and in its other threads, and its requests, at 32
    ceilings: list[dict[str, dict[str, float]]] = []
    try:
        # One server at a time, started for its turn and stopped after it (its whole tree, and
        # any orphan): the peers are never idle beside the one measured, since idle they still
        # take the servers' core (LitServe's inference worker polls every millisecond, Ray's
        # raylet, GCS and proxy keep running), which cost the measured server up to half its rate.
        for peer in servers:
            body = peer.body or v2_body(probe)
            script = WORK / f"post-{peer.label[1]}.lua"
            script.write_text(
                f'wrk.method = "POST"\nwrk.body = [==[{json.dumps(body)}]==]\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            say(f"starting {peer.label} on CPU {SERVER_CPU} (port {peer.port})")
            process, answer = start(peer, body, WORK / f"{peer.label[1]}.log")
            peer.process = process
            if predictions(answer) != expected.tolist():
                raise RuntimeError(f"{peer.label} answered {answer.text} for a row the model predicts {expected}")
            for connections in (1, 32):
                wrk(peer.url, connections, 2, script)  # warm-up
            for round_ in range(1, args.rounds + 1):
                for connections in (1, 32):
                    say(f"{peer.label}, round {round_}/{args.rounds}, concurrency {connections}, {args.duration:g} s")
                    ours_batched = peer.label.startswith("(c)") and connections == 32
                    before = batch_rows(peer) if ours_batched else (0.0, 0.0)
                    threads_before = thread_cpu_s(process.pid) if ours_batched else {}
                    load = wrk(peer.url, connections, args.duration, script)
                    if ours_batched:
                        threads_after = thread_cpu_s(process.pid)
                        after = batch_rows(peer)
                        batch = [batch[0] + after[0] - before[0], batch[1] + after[1] - before[1]]
                        spent = {t: s - threads_before.get(t, 0.0) for t, s in threads_after.items()}
                        cpu[0] += spent.pop(process.pid, 0.0)
                        cpu[1] += sum(spent.values())
                        cpu[2] += load.rps * args.duration
                    samples[peer.label][connections].append(load)
                    say(
                        f"  {load.rps:.0f} req/s, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, {load.errors} errors"
                    )
                    if ours_batched and batch[1]:
                        # Right after each of its runs, so that the ceiling sees the machine (c) saw.
                        ceilings.append(in_process_ceiling(model_dir, batch[0] / batch[1], args.duration, row))
            stop_tree(process)
            peer.process = None
            stop_all()  # Ray's and BentoML's workers that left its tree
        mean_batch = batch[0] / batch[1] if batch[1] else None
        ceiling = median_ceiling(ceilings)
    finally:
        for peer in servers:
            if peer.process is not None:
                stop_tree(peer.process)
        stop_all()
    results = {label: {c: median_load(loads) for c, loads in by_c.items()} for label, by_c in samples.items()}
    split = {"eventLoopUs": cpu[0] / cpu[2] * 1e6, "otherThreadsUs": cpu[1] / cpu[2] * 1e6} if cpu[2] else None
    report(results, args.rounds, mean_batch, ceiling, split)
    if args.json is not None:
        document = results_document(results, args.rounds, mean_batch, ceiling)
        args.json.write_text(json.dumps({**document, "cpuPerRequest": split}, indent=2) + "\n")
    return 0


def thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds (user and system) each thread of ``pid`` has used; empty once it is gone."""
    try:
        return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}
    except psutil.NoSuchProcess:
        return {}


def in_process_ceiling(
    model_dir: Path, mean_batch: float, seconds: float, row: list[float]
) -> dict[str, dict[str, float]]:
    """``predict`` alone on the servers' core at the batch sizes around the one (c) reached, and 32."""
    sizes = sorted({max(1, int(mean_batch)), max(1, int(mean_batch) + 1), 32})
    say(f"  in-process ceiling: predict alone at {sizes} rows on CPU {SERVER_CPU}, the server idle")
    command = [
        sys.executable,
        str(REPO / "bench" / "ceiling.py"),
        str(model_dir),
        f"--seconds={seconds / 2:g}",
    ]
    command += [f"--batch={n}" for n in sizes] + [f"--row={json.dumps(row)}"]  # the row wrk sends
    out = subprocess.run(pinned(SERVER_CPU, command), capture_output=True, text=True, check=True, timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


def median_ceiling(rounds: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per batch size, the median over rounds of rows/s and ms per call."""
    sizes = {n for one in rounds for n in one}
    return {
        n: {key: float(np.median([one[n][key] for one in rounds if n in one])) for key in ("rowsPerS", "msPerCall")}
        for n in sorted(sizes, key=int)
    }


def ceiling_at(ceiling: dict[str, dict[str, float]], mean_batch: float) -> float:
    """Rows/s of predict alone at the (fractional) mean batch size, interpolated between sizes."""
    sizes = sorted(int(n) for n in ceiling)
    low = max((n for n in sizes if n <= mean_batch), default=sizes[0])
    high = min((n for n in sizes if n >= mean_batch), default=sizes[-1])
    if low == high:
        return ceiling[str(low)]["rowsPerS"]
    share = (mean_batch - low) / (high - low)
    return ceiling[str(low)]["rowsPerS"] * (1 - share) + ceiling[str(high)]["rowsPerS"] * share


def results_document(
    results: dict[str, dict[int, Load]],
    rounds: int,
    mean_batch: float | None = None,
    ceiling: dict[str, dict[str, float]] | None = None,
) -> dict:
    """The medians by server and concurrency; ours batched at 32 connections is one replica's rate per CPU."""
    batched = next((loads for label, loads in results.items() if label.startswith("(c)")), None)
    return {
        "model": "RandomForest (100 trees) MLflow model, single-row V2 requests",
        "serverCpus": 1,
        "rounds": rounds,
        "servers": {
            label: {
                str(c): {"rps": x.rps, "p50Ms": x.p50_ms, "p99Ms": x.p99_ms, "errors": x.errors}
                for c, x in loads.items()
            }
            for label, loads in results.items()
        },
        "replicaRpsPerCpu": batched[32].rps if batched else None,
        "meanBatchRows": mean_batch,
        "ceiling": ceiling or {},
        "loadAverage": os.getloadavg()[0],
    }


def checks(
    results: dict[str, dict[int, Load]], mean_batch: float | None, ceiling: dict[str, dict[str, float]]
) -> list[tuple[str, float, float, bool]]:
    """(what, ratio, target, at least) for each target the run can say something about."""
    get = {label[:3]: loads for label, loads in results.items()}
    out: list[tuple[str, float, float, bool]] = []
    ours = get.get("(c)")
    if ours is None:
        return out
    if "(a)" in get:
        out.append(("(c) req/s at 32 >= 5x (a)", ours[32].rps / get["(a)"][32].rps, 5.0, True))
    if "(d)" in get:
        out.append(("(c) req/s at 32 >= 1.2x (d) MLServer", ours[32].rps / get["(d)"][32].rps, 1.2, True))
        out.append(("(c) p99 at 32 <= 0.5x (d) MLServer", ours[32].p99_ms / get["(d)"][32].p99_ms, 0.5, False))
    new = [label for label in get if label in ("(e)", "(f)", "(g)")]
    if new:
        best = max(new, key=lambda label: get[label][32].rps)
        out.append((f"(c) req/s at 32 >= 1.5x best peer {best}", ours[32].rps / get[best][32].rps, 1.5, True))
        out.append((f"(c) p99 at 32 <= 0.5x {best}", ours[32].p99_ms / get[best][32].p99_ms, 0.5, False))
    if mean_batch and ceiling:
        limit = ceiling_at(ceiling, mean_batch)
        out.append((f"(c) req/s at 32 >= 0.8x ceiling at {mean_batch:.1f} rows", ours[32].rps / limit, 0.8, True))
    if "(b)" in get:
        out.append(("(c) p50 at 1 <= 1.2x (b)", ours[1].p50_ms / get["(b)"][1].p50_ms, 1.2, False))
    return out


def report(
    results: dict[str, dict[int, Load]],
    rounds: int,
    mean_batch: float | None = None,
    ceiling: dict[str, dict[str, float]] | None = None,
    split: dict[str, float] | None = None,
) -> None:
    print(
        f"\nRandomForest (100 trees) MLflow model, single-row requests, wrk on CPU {LOAD_CPU}, each server (its whole"
        f" process tree) on CPU {SERVER_CPU}; median of {rounds} rounds (errors: total); load average at the end"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
    )
    print(f"| {'server':<44} | {'conc':>4} | {'req/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} | {'errors':>6} |")
    print(f"|{'-' * 46}|{'-' * 6}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 8}|")
    for label, loads in results.items():
        for connections, load in loads.items():
            print(
                f"| {label:<44} | {connections:>4} | {load.rps:>8.0f} | {load.p50_ms:>8.2f} | {load.p99_ms:>8.2f} | {load.errors:>6} |"
            )
    if mean_batch:
        print(f"\n(c) formed batches of {mean_batch:.1f} rows on average at concurrency 32")
    for n, row in sorted((ceiling or {}).items(), key=lambda item: int(item[0])):
        print(f"ceiling: predict alone on {int(n):>2} rows: {row['msPerCall']:.2f} ms, {row['rowsPerS']:.0f} rows/s")
    if split:
        loop, other = split["eventLoopUs"], split["otherThreadsUs"]
        print(
            f"(c) at concurrency 32, its core's time per request: {loop:.0f} us on the event loop (HTTP, V2 decoding"
            f" and encoding, batching), {other:.0f} us in the predict thread (its DataFrame, the model): predict"
            f" holds {other / (loop + other):.0%} of the core, which is (c)'s share of the ceiling if predict runs"
            f" as fast in the server as alone. 80% of the ceiling leaves at most {other / 4:.0f} us a request to the"
            " event loop"
        )
    floor = next((loads[32] for label, loads in results.items() if label.startswith("(h)")), None)
    if floor is not None and floor.rps:
        print(
            f"(h) the HTTP floor: {floor.rps:.0f} req/s at concurrency 32, {1e6 / floor.rps:.0f} us of the core a"
            " request for uvicorn's HTTP and ASGI alone"
        )
    print()
    for name, ratio, target, at_least in checks(results, mean_batch, ceiling or {}):
        met = ratio >= target if at_least else ratio <= target
        print(f"{name:<46} ratio {ratio:6.2f}  target {target:g}  {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
