"""Model server benchmark: naive wrapper, ours unbatched, ours batched, MLServer, side by side.

    .venv/bin/python bench/modelserver.py [--duration 10]

Everything is created under .bench/modelserver: a RandomForest (100 trees) MLflow model, and
MLServer 1.7 with its MLflow runtime in its own virtualenv (it cannot share one with kserve;
uvloop is pinned to 0.21, or its worker fails to start). Load comes from wrk (Debian package
``wrk``) pinned to CPU 0; the servers are pinned to CPU 1 and loaded one at a time, in rounds
(``--rounds``, medians reported). Every request carries one row. Prints one table and the
target ratios. The machine may be shared: run it twice before
trusting a close call.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.runtime.modelserver.servers import free_port, wait_ready  # noqa: E402

WORK = REPO / ".bench" / "modelserver"
MLSERVER_VENV = WORK / "mlserver-venv"
MLSERVER_PINS = ["mlserver==1.7.1", "mlserver-mlflow==1.7.1", "uvloop==0.21.0", "scikit-learn==1.9.1"]
FEATURES = [f"f{i}" for i in range(8)]
MODEL = "rf"
SERVER_CPU, LOAD_CPU = "1", "0"


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def pinned(cpu: str, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else command


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


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)\b", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, connections: int, duration_s: float, script: Path) -> Load:
    command = pinned(
        LOAD_CPU,
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration_s:g}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ],
    )
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return Load(rps, p50, p99, errors)


@dataclass
class Peer:
    label: str
    command: list[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/models/{MODEL}/infer"


def start(peer: Peer, log: Path, timeout_s: float = 300) -> subprocess.Popen:
    with log.open("w") as handle:
        process = subprocess.Popen(
            pinned(SERVER_CPU, peer.command), cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ)
        )
    wait_ready(process, f"http://127.0.0.1:{peer.port}", log, timeout_s)
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


def peers(model_dir: Path, mlserver: Path | None) -> list[Peer]:
    def ours(port: int) -> list[str]:
        return [sys.executable, "-m", "runtime.modelserver", "--model_name", MODEL, "--model_dir", str(model_dir),
                "--http_port", str(port)]  # fmt: skip

    a, b, c, d = (free_port() for _ in range(4))
    found = [
        Peer(
            "(a) naive FastAPI + pyfunc",
            [sys.executable, str(REPO / "bench" / "naive_server.py"), str(model_dir), str(a)],
            a,
        ),
        Peer("(b) ours, no batching", ours(b), b),
        Peer("(c) ours, batching 32/10ms", [*ours(c), "--max_batch_size", "32", "--max_latency_ms", "10"], c),
    ]
    if mlserver is not None:
        found.append(
            Peer("(d) MLServer 1.7, batching 32/10ms", [str(mlserver), "start", str(mlserver_folder(model_dir, d))], d)
        )
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
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the medians as JSON (python -m components.cost --bench-results reads replicaRpsPerCpu)",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    mlserver = None if args.skip_mlserver else ensure_mlserver()
    model_dir, probe, expected = train_model()
    body = v2_body(probe)
    script = WORK / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = [[{json.dumps(body)}]]\nwrk.headers["Content-Type"] = "application/json"\n'
    )
    servers = peers(model_dir, mlserver)
    processes = []
    samples: dict[str, dict[int, list[Load]]] = {peer.label: {1: [], 32: []} for peer in servers}
    try:
        for peer in servers:
            say(f"starting {peer.label} on CPU {SERVER_CPU} (port {peer.port})")
            processes.append(start(peer, WORK / f"{peer.label[1]}.log"))
            answer = httpx.post(peer.url, json=body, timeout=30).json()
            if answer["outputs"][0]["data"] != expected.tolist():
                raise RuntimeError(f"{peer.label} answered {answer} for a row the model predicts {expected.tolist()}")
            for connections in (1, 32):
                wrk(peer.url, connections, 2, script)  # warm-up
        # Rounds interleave the servers in time, so a burst of load from elsewhere on a shared
        # machine hits one sample of each rather than every sample of one; only one server is
        # under load at any moment, the others sit idle.
        for round_ in range(1, args.rounds + 1):
            for peer in servers:
                for connections in (1, 32):
                    say(f"round {round_}/{args.rounds}: {peer.label}, concurrency {connections}, {args.duration:g} s")
                    load = wrk(peer.url, connections, args.duration, script)
                    samples[peer.label][connections].append(load)
                    say(
                        f"  {load.rps:.0f} req/s, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, {load.errors} errors"
                    )
    finally:
        for process in processes:
            stop(process)
    results = {label: {c: median_load(loads) for c, loads in by_c.items()} for label, by_c in samples.items()}
    report(results, args.rounds)
    if args.json is not None:
        args.json.write_text(json.dumps(results_document(results, args.rounds), indent=2) + "\n")
    return 0


def results_document(results: dict[str, dict[int, Load]], rounds: int) -> dict:
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
    }


def report(results: dict[str, dict[int, Load]], rounds: int) -> None:
    print(
        f"\nRandomForest (100 trees) MLflow model, single-row V2 requests, wrk on CPU {LOAD_CPU}, server on CPU"
        f" {SERVER_CPU}; median of {rounds} rounds (errors: total)\n"
    )
    print(f"| {'server':<36} | {'conc':>4} | {'req/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} | {'errors':>6} |")
    print(f"|{'-' * 38}|{'-' * 6}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 8}|")
    for label, loads in results.items():
        for connections, load in loads.items():
            print(
                f"| {label:<36} | {connections:>4} | {load.rps:>8.0f} | {load.p50_ms:>8.2f} | {load.p99_ms:>8.2f} | {load.errors:>6} |"
            )
    get = {label[:3]: loads for label, loads in results.items()}
    checks = []
    if "(a)" in get and "(c)" in get:
        checks.append(("(c) req/s at 32 >= 5x (a)", get["(c)"][32].rps / get["(a)"][32].rps, 5.0, True))
    if "(d)" in get and "(c)" in get:
        checks.append(("(c) req/s at 32 >= 1.2x (d)", get["(c)"][32].rps / get["(d)"][32].rps, 1.2, True))
        checks.append(("(c) p99 at 32 <= 0.5x (d)", get["(c)"][32].p99_ms / get["(d)"][32].p99_ms, 0.5, False))
    if "(b)" in get and "(c)" in get:
        checks.append(("(c) p50 at 1 <= 1.2x (b)", get["(c)"][1].p50_ms / get["(b)"][1].p50_ms, 1.2, False))
    print()
    for name, ratio, target, at_least in checks:
        met = ratio >= target if at_least else ratio <= target
        print(f"{name:<32} ratio {ratio:6.2f}  target {target:g}  {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
