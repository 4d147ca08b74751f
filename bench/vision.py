"""Vision benchmark: 640x480 JPEGs through a naive server, ours unbatched and ours batched.

    .venv/bin/python bench/vision.py [--device cpu|cuda] [--duration 10] [--rounds 3]

Trains the digit classifier (seconds) and registers it in a throwaway local registry, then
serves it three ways, one at a time, loaded by wrk (Debian package ``wrk``; one image per
request, a different 640x480 JPEG photograph of a digit each time): (a) a naive FastAPI + torch
server that decodes and resizes inline and runs one forward pass per request
(``bench/naive_vision_server.py``), (b) ``runtime.modelserver`` without batching, (c) with
batching (32 images / 5 ms). On a CPU the servers share CPU 1 and wrk runs on CPU 0; with
``--device cuda`` the servers run their forward passes on the GPU and the table adds its
utilization (``nvidia-smi``, sampled while each load runs). It also prints where one image's
time goes: decode and resize against the forward pass. Figures from a shared machine are
noisy: run it twice before trusting a close call.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.modelserver import Load, ensure_wrk, median_load, pinned, say, wrk  # noqa: E402
from bench.processes import stop_tree  # noqa: E402
from tests.runtime.modelserver.servers import free_port, wait_ready  # noqa: E402

WORK = REPO / ".bench" / "vision"
MODEL = "vision"
SERVER_CPU = "1"
IMAGES = 16


def photographs(count: int) -> tuple[list[bytes], list[str]]:
    """640x480 JPEGs: held-out digits scaled up onto a noisy photograph-sized frame."""
    from PIL import Image

    from examples.digits import encode, render, split

    _, test_idx = split()
    rendered, labels = render(test_idx[:count], seed=77, raw_share=1.0)
    rng = np.random.default_rng(0)
    files = []
    for pixels in rendered:
        frame = np.asarray(Image.fromarray(pixels).resize((640, 480), Image.Resampling.BICUBIC), dtype=np.float32)
        frame = np.clip(frame + rng.normal(0, 6, frame.shape), 0, 255).astype(np.uint8)
        files.append(encode(frame, "JPEG", 90))
    return files, [str(v) for v in labels]


def lua_script(files: list[bytes], path: Path) -> Path:
    bodies = []
    for data in files:
        body = {
            "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [base64.b64encode(data).decode()]}]
        }
        bodies.append(f"[[{json.dumps(body)}]]")
    path.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"local bodies = {{{', '.join(bodies)}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #bodies + 1\n  return wrk.format(nil, nil, nil, bodies[i])\nend\n"
    )
    return path


def export_weights(model, folder: Path) -> Path:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model._net.state_dict(), folder / "weights.pt")
    config = {"labels": model.labels, "width": model.width, "size": model.prep.size}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


class GpuSampler:
    """Mean and peak GPU utilization (nvidia-smi, every 0.2 s) while a load runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.split()
            if out:
                self.samples.append(float(out[0]))

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        return f"{statistics.mean(self.samples):.0f}% / {max(self.samples):.0f}%" if self.samples else "n/a"


def time_split(classifier, files: list[bytes]) -> dict[str, float]:
    """Milliseconds per image: our decode+resize, the naive full decode, forward at 1 and 32."""
    import io

    from PIL import Image

    def per_call(function, repeat: int) -> float:
        started = time.perf_counter()
        for _ in range(repeat):
            function()
        return (time.perf_counter() - started) / repeat * 1000

    size = classifier.prep.size
    ours = per_call(lambda: [classifier.prepare(f) for f in files], 5) / len(files)
    naive = per_call(lambda: [Image.open(io.BytesIO(f)).convert("RGB").resize((size, size)) for f in files], 3) / len(
        files
    )
    one = np.stack([classifier.prepare(files[0])])
    many = np.repeat(one, 32, axis=0)
    classifier.forward(many)
    return {
        "decode_resize_ours": ours,
        "decode_resize_naive": naive,
        "forward_1": per_call(lambda: classifier.forward(one), 20),
        "forward_32_per_image": per_call(lambda: classifier.forward(many), 10) / 32,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of load per server, concurrency and round"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all servers; the table shows medians")
    args = parser.parse_args()
    if args.device == "cuda" and not shutil.which("nvidia-smi"):
        parser.error("--device cuda needs nvidia-smi and a visible GPU")
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    from tests.vision_model import registered, trained

    say("training the digit classifier and registering it in a throwaway registry")
    model = registered()
    classifier, accuracy = trained()
    weights = export_weights(classifier, WORK / "naive")
    files, labels = photographs(IMAGES)
    script = lua_script(files, WORK / "post.lua")
    split = time_split(classifier, files)
    env = {**os.environ, "MLFLOW_TRACKING_URI": model["tracking_uri"], "ML_SERVING_DEVICE": args.device}
    cpu = SERVER_CPU if args.device == "cpu" else None

    def ours(port: int, *extra: str) -> list[str]:
        return [sys.executable, "-m", "runtime.modelserver", "--model_name", MODEL, "--model_dir", model["uri"],
                "--http_port", str(port), *extra]  # fmt: skip

    a, b, c = (free_port() for _ in range(3))
    servers = [
        (
            "(a) naive FastAPI + torch, inline",
            [
                sys.executable,
                str(REPO / "bench" / "naive_vision_server.py"),
                str(weights),
                str(a),
                "--device",
                args.device,
            ],
            a,
        ),
        ("(b) ours, no batching", ours(b), b),
        ("(c) ours, batching 32/5ms", ours(c, "--max_batch_size", "32", "--max_latency_ms", "5"), c),
    ]
    samples: dict[str, dict[int, list[Load]]] = {label: {1: [], 32: []} for label, _, _ in servers}
    gpu: dict[str, dict[int, str]] = {label: {} for label, _, _ in servers}
    processes = []
    try:
        for label, command, port in servers:
            say(f"starting {label} (port {port})")
            log = WORK / f"{label[1]}.log"
            with log.open("w") as handle:
                process = subprocess.Popen(
                    pinned(cpu, command) if cpu else command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env=env
                )
            processes.append(process)
            wait_ready(process, f"http://127.0.0.1:{port}", log, 300)
            url = f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer"
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
            answer = {o["name"]: o["data"] for o in httpx.post(url, json=body, timeout=60).json()["outputs"]}
            right = sum(a == b for a, b in zip(answer["class"], labels))
            say(f"  {label}: {right}/{len(labels)} photographs classified right")
            for connections in (1, 32):
                wrk(url, connections, 2, script)  # warm-up
        for round_ in range(1, args.rounds + 1):
            for label, _, port in servers:
                url = f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer"
                for connections in (1, 32):
                    say(f"round {round_}/{args.rounds}: {label}, concurrency {connections}, {args.duration:g} s")
                    with GpuSampler() if args.device == "cuda" else _Nothing() as sampler:
                        load = wrk(url, connections, args.duration, script)
                    if args.device == "cuda":
                        gpu[label][connections] = sampler.summary()
                    samples[label][connections].append(load)
                    say(
                        f"  {load.rps:.0f} images/s, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, {load.errors} errors"
                    )
    finally:
        for process in processes:
            stop_tree(process)
    results = {label: {c: median_load(loads) for c, loads in by_c.items()} for label, by_c in samples.items()}
    report(results, gpu, split, args, accuracy)
    return 0


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *_) -> None:
        return None


def report(results, gpu, split, args, accuracy: float) -> None:
    where = "GPU (forward passes)" if args.device == "cuda" else f"CPU {SERVER_CPU} (servers), CPU 0 (wrk)"
    print(
        f"\n640x480 JPEG photographs of digits, one image per request, {where}; median of {args.rounds} rounds;"
        f" model held-out accuracy {accuracy:.1%}\n"
    )
    print(
        f"| {'server':<34} | {'conc':>4} | {'images/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} | {'errors':>6} | {'GPU mean/peak':>13} |"
    )
    print(f"|{'-' * 36}|{'-' * 6}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 8}|{'-' * 15}|")
    for label, loads in results.items():
        for connections, load in loads.items():
            util = gpu[label].get(connections, "n/a")
            print(
                f"| {label:<34} | {connections:>4} | {load.rps:>8.0f} | {load.p50_ms:>8.2f} | {load.p99_ms:>8.2f} | {load.errors:>6} | {util:>13} |"
            )
    total_ours = split["decode_resize_ours"] + split["forward_32_per_image"]
    total_naive = split["decode_resize_naive"] + split["forward_1"]
    print(
        f"\nper image, in process ({args.device}): decode+resize ours {split['decode_resize_ours']:.2f} ms"
        f" (JPEG reduced while decoding) vs naive {split['decode_resize_naive']:.2f} ms; forward"
        f" {split['forward_1']:.2f} ms alone vs {split['forward_32_per_image']:.2f} ms in a batch of 32"
    )
    print(
        f"share of time in decode/resize: ours batched {split['decode_resize_ours'] / total_ours:.0%},"
        f" naive {split['decode_resize_naive'] / total_naive:.0%} (the rest is the forward pass)\n"
    )
    get = {label[:3]: loads for label, loads in results.items()}
    checks = [
        ("(c) images/s at 32 >= 3x (a)", get["(c)"][32].rps / get["(a)"][32].rps, 3.0, True),
        ("(c) p50 at 1 <= 1.2x (b)", get["(c)"][1].p50_ms / get["(b)"][1].p50_ms, 1.2, False),
    ]
    for name, ratio, target, at_least in checks:
        met = ratio >= target if at_least else ratio <= target
        print(f"{name:<32} ratio {ratio:6.2f}  target {target:g}  {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
