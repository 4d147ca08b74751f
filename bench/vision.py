"""Vision benchmark: 640x480 JPEGs through a naive server, ours unbatched and ours batched.

    .venv/bin/python bench/vision.py [--device cpu|cuda] [--duration 10] [--rounds 3] [--json out.json]

Trains the digit classifier (seconds) and registers it in a throwaway local registry, then
serves it three ways, loaded by wrk (Debian package ``wrk``; one image per request, a different
640x480 JPEG photograph of a digit each time): (a) a naive FastAPI + torch server that decodes
and resizes inline and runs one forward pass per request (``bench/naive_vision_server.py``),
(b) ``runtime.modelserver`` without batching, (c) with batching (32 images / 5 ms). Rounds
go over all servers in turn and the table shows medians. On a CPU the servers share CPU 1 and
wrk runs on CPU 0; with ``--device cuda`` the forward passes run on the GPU (ours in FP16, as
the prod stack declares; ``--precision fp32`` to compare) and the table adds the GPU's
utilization (``nvidia-smi``, sampled while each load runs).

Beside images/s and latency, each row shows the server's CPU time per image and the share of
a core it got (from /proc): on a shared machine the share moves with other people's work, the
CPU time per image much less. Where one image's time goes is read from our servers' own
stage timings (``ml_serving_image_stage_seconds``) under load, with the batch sizes formed,
and measured in process for the naive server's inline decoding. The load average at each load
is reported as the conditions of the run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.modelserver import Load, ensure_wrk, median_load, wrk  # noqa: E402
from bench.processes import on_signals, pinned, say, stop_tree  # noqa: E402
from bench.vision_parts import (  # noqa: E402
    GpuSampler,
    cpu_seconds,
    export_weights,
    lua_script,
    photographs,
    stage_split,
    stage_totals,
    time_split,
)
from tests.ports import free_port  # noqa: E402
from tests.runtime.modelserver.servers import wait_ready  # noqa: E402

WORK = REPO / ".bench" / "vision"
MODEL = "vision"
SERVER_CPU = "1"
IMAGES = 16
CONCURRENCY = (1, 32)


@dataclass
class Run:
    """One load of one server at one concurrency."""

    load: Load
    cpu_ms_per_image: float
    core_share: float
    load_average: float
    stages: dict[str, float] = field(default_factory=dict)
    gpu: str = "n/a"


@dataclass
class Server:
    label: str
    command: list[str]
    port: int
    metrics: bool

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/models/{MODEL}/infer"


def servers(args: argparse.Namespace, model: dict[str, str], weights: Path) -> list[Server]:
    def ours(port: int, *extra: str) -> list[str]:
        return [sys.executable, "-m", "runtime.modelserver", "--model_name", MODEL, "--model_dir", model["uri"],
                "--http_port", str(port), *extra]  # fmt: skip

    a, b, c = (free_port() for _ in range(3))
    naive = [
        sys.executable,
        str(REPO / "bench" / "naive_vision_server.py"),
        str(weights),
        str(a),
        "--device",
        args.device,
    ]
    return [
        Server("(a) naive FastAPI + torch, inline", naive, a, False),
        Server("(b) ours, no batching", ours(b), b, True),
        Server("(c) ours, batching 32/5ms", ours(c, "--max_batch_size", "32", "--max_latency_ms", "5"), c, True),
    ]


def measure(
    server: Server, process: subprocess.Popen, connections: int, duration: float, script: Path, gpu: bool
) -> Run:
    base = f"http://127.0.0.1:{server.port}"
    before = stage_totals(base, MODEL) if server.metrics else {}
    load_average = os.getloadavg()[0]
    cpu = cpu_seconds(process.pid)
    with GpuSampler() if gpu else contextlib.nullcontext() as sampler:
        load = wrk(server.url, connections, duration, script)
    used = cpu_seconds(process.pid) - cpu
    images = max(load.rps * duration, 1.0)
    stages = stage_split(before, stage_totals(base, MODEL)) if server.metrics else {}
    return Run(
        load, used / images * 1000, used / duration, load_average, stages, sampler.summary() if sampler else "n/a"
    )


def median_run(runs: list[Run]) -> Run:
    stages = {key: statistics.median(r.stages[key] for r in runs if key in r.stages) for key in runs[0].stages}
    return Run(
        median_load([r.load for r in runs]),
        statistics.median(r.cpu_ms_per_image for r in runs),
        statistics.median(r.core_share for r in runs),
        statistics.median(r.load_average for r in runs),
        stages,
        runs[-1].gpu,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", choices=("auto", "fp32", "fp16"), default="auto",
                        help="of our servers' forward pass; auto: fp16 on cuda (as declared in prod), fp32 on cpu")  # fmt: skip
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of load per server, concurrency and round"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all servers; the table shows medians")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.device == "cuda":
        problem = cuda_problem()
        if problem:
            parser.error(f"--device cuda: {problem}")
    half = args.precision == "fp16" or (args.precision == "auto" and args.device == "cuda")
    on_signals()  # SIGTERM and SIGHUP stop the servers too, as Ctrl-C does
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    from tests.vision_model import registered, trained

    say("training the digit classifier and registering it in a throwaway registry")
    model = registered()
    classifier, accuracy = trained()
    weights = export_weights(classifier, WORK / "naive")
    files, labels = photographs(IMAGES)
    script = lua_script(files, WORK / "post.lua")
    split = time_split(classifier, files, args.device)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": model["tracking_uri"],
        "ML_SERVING_DEVICE": args.device,
        "ML_SERVING_HALF_PRECISION": str(half).lower(),
    }
    cpu = SERVER_CPU if args.device == "cpu" else None
    peers = servers(args, model, weights)
    samples: dict[str, dict[int, list[Run]]] = {s.label: {c: [] for c in CONCURRENCY} for s in peers}
    processes: dict[str, subprocess.Popen] = {}
    try:
        for server in peers:
            say(f"starting {server.label} (port {server.port})")
            log = WORK / f"{server.label[1]}.log"
            with log.open("w") as handle:
                command = pinned(cpu, server.command) if cpu else server.command
                processes[server.label] = subprocess.Popen(
                    command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env=env
                )
            wait_ready(processes[server.label], f"http://127.0.0.1:{server.port}", log, 300)
            check_answers(server, files, labels)
            for connections in CONCURRENCY:
                wrk(server.url, connections, 2, script)  # warm-up
        for round_ in range(1, args.rounds + 1):
            for server in peers:
                for connections in CONCURRENCY:
                    say(f"round {round_}/{args.rounds}: {server.label}, concurrency {connections}, {args.duration:g} s")
                    run = measure(
                        server, processes[server.label], connections, args.duration, script, args.device == "cuda"
                    )
                    samples[server.label][connections].append(run)
                    say(
                        f"  {run.load.rps:.0f} images/s, p50 {run.load.p50_ms:.2f} ms, p99 {run.load.p99_ms:.2f} ms,"
                        f" {run.cpu_ms_per_image:.2f} CPU ms/image, {run.core_share:.0%} of a core, load {run.load_average:.1f}"
                    )
    finally:
        for process in processes.values():
            stop_tree(process)
    results = {label: {c: median_run(runs) for c, runs in by_c.items()} for label, by_c in samples.items()}
    loads = [r.load_average for by_c in samples.values() for runs in by_c.values() for r in runs]
    report(results, split, args, accuracy, half, loads)
    if args.json:
        document = {
            "device": args.device,
            "fp16": half,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "load_average": {"min": min(loads), "max": max(loads)},
            "accuracy": accuracy,
            "in_process_ms": split,
            "results": {label: {str(c): asdict(r) for c, r in by_c.items()} for label, by_c in results.items()},
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


def cuda_problem() -> str | None:
    """Why this machine cannot run the CUDA benchmark, or None when it can."""
    if not shutil.which("nvidia-smi"):
        return "nvidia-smi is not on PATH (no NVIDIA driver here)"
    import torch

    if not torch.cuda.is_available():
        return (
            f"torch {torch.__version__} sees no CUDA device; the lock's torch==2.13.0 resolves to the CPU build"
            " here: install the CUDA build of the same release as runtime/Dockerfile's TORCH_INDEX does"
            " (pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu130)"
        )
    return None


def check_answers(server: Server, files: list[bytes], labels: list[str]) -> None:
    body = {
        "inputs": [
            {
                "name": "image",
                "datatype": "BYTES",
                "shape": [len(files)],
                "data": [base64.b64encode(f).decode() for f in files],
            }
        ]
    }
    answer = {o["name"]: o["data"] for o in httpx.post(server.url, json=body, timeout=60).json()["outputs"]}
    right = sum(got == want for got, want in zip(answer["class"], labels))
    say(f"  {server.label}: {right}/{len(labels)} photographs classified right")


def report(results, split, args, accuracy: float, half: bool, loads: list[float]) -> None:
    where = "GPU (forward passes)" if args.device == "cuda" else f"CPU {SERVER_CPU} (servers), CPU 0 (wrk)"
    precision = "fp16" if half else "fp32"
    print(
        f"\n640x480 JPEG photographs of digits, one image per request, {where}, ours in {precision}; median of"
        f" {args.rounds} rounds of {args.duration:g} s; load average {min(loads):.1f}-{max(loads):.1f};"
        f" model held-out accuracy {accuracy:.1%}\n"
    )
    head = f"| {'server':<34} | {'conc':>4} | {'images/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} | {'errors':>6} | {'CPU ms/img':>10} | {'core':>5} | {'GPU mean/peak':>13} |"
    print(head)
    print("|" + "|".join("-" * (len(cell) + 2) for cell in head.strip("| ").split(" | ")) + "|")
    for label, by_c in results.items():
        for c, r in by_c.items():
            print(
                f"| {label:<34} | {c:>4} | {r.load.rps:>8.0f} | {r.load.p50_ms:>8.2f} | {r.load.p99_ms:>8.2f} | {r.load.errors:>6}"
                f" | {r.cpu_ms_per_image:>10.2f} | {r.core_share:>5.0%} | {r.gpu:>13} |"
            )
    print(f"\nwhere an image's time goes in our servers under load ({args.device}; from their stage timings):")
    for label, by_c in results.items():
        for c, r in by_c.items():
            s = r.stages
            if not s:
                continue
            prep = s["decode_ms"] + s["resize_ms"]
            queue = f", queue wait {s['queue_wait_ms']:.2f} ms" if "queue_wait_ms" in s else ""
            print(
                f"  {label} c{c}: decode {s['decode_ms']:.2f} ms + resize/normalize {s['resize_ms']:.2f} ms,"
                f" forward {s['forward_ms']:.2f} ms per image ({s['images_per_forward']:.1f} images per pass){queue};"
                f" decode/resize {prep / (prep + s['forward_ms']):.0%} of it"
            )
    naive = split["decode_resize_naive"]
    print(
        f"  (a) naive, in process: full decode + resize {naive:.2f} ms, forward {split['forward_1']:.2f} ms per image;"
        f" decode/resize {naive / (naive + split['forward_1']):.0%} of it"
    )
    print(
        f"  ours in process: decode {split['decode_ours']:.2f} ms (JPEG reduced while decoding) + resize/normalize"
        f" {split['resize_ours']:.2f} ms; forward {split['forward_1']:.2f} ms alone,"
        f" {split['forward_32_per_image']:.3f} ms per image in a batch of 32\n"
    )
    get = {label[:3]: by_c for label, by_c in results.items()}
    checks = [
        ("(c) images/s at 32 >= 3x (a)", get["(c)"][32].load.rps / get["(a)"][32].load.rps, 3.0, True),
        ("(c) p50 at 1 <= 1.2x (b)", get["(c)"][1].load.p50_ms / get["(b)"][1].load.p50_ms, 1.2, False),
    ]
    for name, ratio, target, at_least in checks:
        met = ratio >= target if at_least else ratio <= target
        print(f"{name:<32} ratio {ratio:6.2f}  target {target:g}  {'met' if met else 'NOT met'}")
    efficiency = get["(a)"][32].cpu_ms_per_image / get["(c)"][32].cpu_ms_per_image
    print(
        f"(a) spends {efficiency:.2f}x the CPU time per image of (c) at 32: the images/s ratio each would reach"
        " on a core of its own, when both are bound by it"
    )


if __name__ == "__main__":
    sys.exit(main())
