"""Parts of bench/vision.py: the photographs, wrk's script, and what is read while a load runs
(the servers' CPU time, their stage timings from /metrics, the GPU's utilization)."""

from __future__ import annotations

import base64
import io
import json
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

STAGES = ("decode", "resize", "forward")


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
    """wrk's script: one V2 JSON request per image, the images in turn."""
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


def export_weights(model: Any, folder: Path) -> Path:
    """The trained network as the naive server loads it: a state_dict and a config."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model._net.state_dict(), folder / "weights.pt")
    config = {"labels": model.labels, "width": model.width, "size": model.prep.size}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stage_totals(base_url: str, model: str) -> dict[str, float]:
    """Totals so far of the model server's stage timings and batches (its /metrics)."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("model") != model:
                continue
            if sample.name in ("ml_serving_image_stage_seconds_sum", "ml_serving_image_stage_seconds_count"):
                totals[f"{sample.labels['stage']}_{sample.name.rsplit('_', 1)[1]}"] = sample.value
            elif sample.name in ("ml_serving_batch_rows_sum", "ml_serving_batch_rows_count"):
                totals[f"rows_{sample.name.rsplit('_', 1)[1]}"] = sample.value
            elif sample.name in ("ml_serving_queue_wait_seconds_sum", "ml_serving_queue_wait_seconds_count"):
                totals[f"queue_{sample.name.rsplit('_', 1)[1]}"] = sample.value
    return totals


def stage_split(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Per image during one load: ms in each stage, images per forward pass, ms of queue wait."""
    delta = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
    images = delta.get("decode_count", 0.0)
    if not images:
        return {}
    split = {f"{stage}_ms": delta.get(f"{stage}_sum", 0.0) / images * 1000 for stage in STAGES}
    split["images_per_forward"] = images / max(delta.get("forward_count", 0.0), 1.0)
    if delta.get("queue_count"):
        split["queue_wait_ms"] = delta["queue_sum"] / delta["queue_count"] * 1000
    return split


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
            if out and out[0].replace(".", "", 1).isdigit():
                self.samples.append(float(out[0]))

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        return f"{statistics.mean(self.samples):.0f}% / {max(self.samples):.0f}%" if self.samples else "n/a"


def time_split(classifier: Any, files: list[bytes], device: str) -> dict[str, float]:
    """Milliseconds per image in process, one thread as on the servers' core: our decode and
    resize, the naive full decode and resize, the forward pass (served network) at 1 and 32."""
    import torch
    from PIL import Image

    from runtime.vision.classifier import ImageClassifier
    from runtime.vision.preprocess import decode_image, to_tensor

    def per_call(function, repeat: int) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.thread_time() if device == "cpu" else time.perf_counter()
            for _ in range(repeat):
                function()
            ended = time.thread_time() if device == "cpu" else time.perf_counter()
            best = min(best, (ended - started) / repeat * 1000)
        return best

    threads = torch.get_num_threads()
    try:
        prep = classifier.prep
        served = ImageClassifier(classifier.preprocessing, classifier.labels, classifier.width)
        served.place(classifier._net, torch.device(device))
        torch.set_num_threads(1)
        decoded = [decode_image(f, prep) for f in files]
        n = len(files)
        one = np.stack([to_tensor(decoded[0], prep)])
        many = np.repeat(one, 32, axis=0)
        served.forward(many)
        return {
            "decode_ours": per_call(lambda: [decode_image(f, prep) for f in files], 3) / n,
            "resize_ours": per_call(lambda: [to_tensor(d, prep) for d in decoded], 3) / n,
            "decode_resize_naive": per_call(
                lambda: [
                    Image.open(io.BytesIO(f)).convert("RGB").resize((prep.size, prep.size), Image.Resampling.BILINEAR)
                    for f in files
                ],
                2,
            )
            / n,
            "forward_1": per_call(lambda: served.forward(one), 20),
            "forward_32_per_image": per_call(lambda: served.forward(many), 10) / 32,
        }
    finally:
        torch.set_num_threads(threads)
