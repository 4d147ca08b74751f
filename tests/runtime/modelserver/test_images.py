"""The model server's image path with the session's trained classifier: batching, splitting, refusals."""

import asyncio
import base64
import os
import threading

import numpy as np
import pytest

from runtime.errors import InvalidInput
from runtime.modelserver.images import ImageServing
from runtime.protocol import parse_request
from tests.vision_model import heldout, jpeg, png, trained


class Recording:
    """The classifier, recording the size of every batch tensor it is given."""

    def __init__(self, classifier) -> None:
        self.inner = classifier
        self.prep = classifier.prep
        self.labels = classifier.labels
        self.batches: list[int] = []
        self.threads: set[str] = set()

    def prepare(self, *args):
        return self.inner.prepare(*args)

    def forward(self, batch):
        self.batches.append(len(batch))
        self.threads.add(threading.current_thread().name)
        return self.inner.forward(batch)

    def describe(self):
        return self.inner.describe()


def encoded(*images: bytes) -> dict:
    data = [base64.b64encode(i).decode() for i in images]
    return {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [len(data)], "data": data}]}


def pixels(array: np.ndarray) -> dict:
    return {
        "inputs": [{"name": "image", "datatype": "UINT8", "shape": list(array.shape), "data": array.ravel().tolist()}]
    }


def mixed_requests(count: int, seed: int = 0) -> list[dict]:
    """Requests of 1 to 5 images of different sizes, as JPEG, PNG or raw pixels."""
    images, _ = heldout()
    raw = [v for v in images if isinstance(v, np.ndarray)]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 2:
            out.append(pixels(raw[i % len(raw)][None]))
            continue
        picked = [images[j] for j in rng.choice(len(images), size=int(rng.integers(1, 6)), replace=False)]
        files = [p if isinstance(p, bytes) else (jpeg(p) if kind == 0 else png(p)) for p in picked]
        out.append(encoded(*files))
    return out


async def answers(serving: ImageServing, bodies: list[dict]) -> list:
    return await asyncio.gather(*(serving.predict(parse_request(b)) for b in bodies), return_exceptions=True)


async def alone(bodies: list[dict]) -> list:
    serving = ImageServing("digits", trained()[0], None, None)
    try:
        return [await serving.predict(parse_request(b)) for b in bodies]
    finally:
        await serving.close()


DECODING = pytest.mark.parametrize("threads", [0, 2], ids=["on-the-loop", "in-threads"])
"""Images decoded where the request is read (one core) or in a pool of threads: the same answers."""


@DECODING
async def test_images_of_different_sizes_and_formats_in_one_batch_get_what_each_gets_alone(threads):
    bodies = mixed_requests(24)
    expected = await alone(bodies)
    recording = Recording(trained()[0])
    serving = ImageServing("digits", recording, max_batch_size=16, max_latency_ms=50, threads=threads)
    try:
        await serving.predict(parse_request(bodies[0]))  # a lone request first: the batcher then learns the load
        got = await answers(serving, bodies)
    finally:
        await serving.close()
    for want, have in zip(expected, got):
        assert list(have["class"]) == list(want["class"])
        np.testing.assert_allclose(have["scores"], want["scores"], atol=1e-5)
    sizes = [len(b["inputs"][0]["data"]) if b["inputs"][0]["datatype"] == "BYTES" else 1 for b in bodies]
    assert max(recording.batches) > max(sizes), f"no batch joined requests: {recording.batches}"


@DECODING
async def test_the_batch_tensor_never_exceeds_max_batch_size_and_rows_go_back_in_order(threads):
    bodies = mixed_requests(30, seed=1)
    images, _ = heldout()
    big = [v if isinstance(v, bytes) else png(v) for v in images[:19]]
    bodies.insert(7, encoded(*big))
    expected = await alone(bodies)
    recording = Recording(trained()[0])
    serving = ImageServing("digits", recording, max_batch_size=8, max_latency_ms=20, threads=threads)
    try:
        got = await answers(serving, bodies)
    finally:
        await serving.close()
    assert max(recording.batches) <= 8, recording.batches
    total = sum(len(r["class"]) for r in expected)
    assert sum(recording.batches) == total
    for want, have in zip(expected, got):
        assert list(have["class"]) == list(want["class"])
    assert len(got[7]["class"]) == 19


@DECODING
async def test_bad_images_fail_their_own_request_only(threads):
    images, labels = heldout()
    good_files = [v for v in images if isinstance(v, bytes)][:6]
    good = [encoded(f) for f in good_files]
    bad = {
        "not-an-image": encoded(good_files[0], b"plain text, not a picture"),
        "truncated": encoded(good_files[1][: len(good_files[1]) // 3]),
        "not-base64": {
            "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["%%% not base64 %%%"]}]
        },
        "two-inputs": {
            "inputs": [encoded(good_files[0])["inputs"][0], {**encoded(good_files[1])["inputs"][0], "name": "other"}]
        },
        "float-pixels": {"inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 2, 2, 3], "data": [0.0] * 12}]},
        "pixels-of-two-channels": pixels(np.zeros((1, 4, 4, 2), dtype=np.uint8)),
    }
    serving = ImageServing("digits", trained()[0], max_batch_size=8, max_latency_ms=20, threads=threads)
    try:
        got = await answers(serving, [*good, *bad.values()])
        after = await serving.predict(parse_request(good[0]))
    finally:
        await serving.close()
    expected = await alone(good)
    for want, have in zip(expected, got[: len(good)]):
        assert list(have["class"]) == list(want["class"])
    errors = dict(zip(bad, got[len(good) :]))
    assert all(isinstance(e, InvalidInput) for e in errors.values()), errors
    assert errors["not-an-image"].message.startswith("Input 'image'[1]: not an image")
    assert (
        errors["truncated"].message.startswith("Input 'image'[0]: the JPEG data is truncated")
        or "truncated" in errors["truncated"].message
    )
    assert "not base64" in errors["not-base64"].message
    assert "takes one input 'image'" in errors["two-inputs"].message
    assert "datatype FP32; expected BYTES" in errors["float-pixels"].message
    assert "UINT8 shape [1, 4, 4, 2]" in errors["pixels-of-two-channels"].message
    assert list(after["class"]) == list(expected[0]["class"])


def test_metadata_reports_the_device_and_declared_preprocessing():
    serving = ImageServing("digits", trained()[0], None, None)
    try:
        parameters = serving.parameters()
        assert parameters["device"] == "cpu" and parameters["precision"] == "fp32"
        assert (
            '"aspect": "pad"' in parameters["preprocessing"]
            and '"interpolation": "bilinear"' in parameters["preprocessing"]
        )
        assert [o.model_dump() for o in serving.outputs()] == [
            {"name": "class", "datatype": "BYTES", "shape": [-1]},
            {"name": "scores", "datatype": "FP32", "shape": [-1, 10]},
        ]
    finally:
        asyncio.run(serving.close())


async def test_each_stage_is_timed_and_decoding_uses_one_thread_per_usable_core():
    from prometheus_client import REGISTRY

    from runtime.cores import usable_cores
    from runtime.modelserver.images import decode_threads

    def seconds(stage: str, kind: str) -> float:
        return (
            REGISTRY.get_sample_value(f"ml_serving_image_stage_seconds_{kind}", {"model": "timed", "stage": stage})
            or 0.0
        )

    assert decode_threads() == (0 if usable_cores() == 1 else min(8, usable_cores()))
    serving = ImageServing("timed", trained()[0], 8, 5)
    try:
        before = {stage: seconds(stage, "count") for stage in ("decode", "resize", "forward")}
        await answers(serving, mixed_requests(6))
        counted = {stage: seconds(stage, "count") - before[stage] for stage in before}
    finally:
        await serving.close()
    images = sum(len(b["inputs"][0]["data"]) if b["inputs"][0]["datatype"] == "BYTES" else 1 for b in mixed_requests(6))
    assert counted["decode"] == counted["resize"] == images
    assert 1 <= counted["forward"] <= 6
    assert all(seconds(stage, "sum") > 0 for stage in counted)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
async def test_on_one_core_images_are_decoded_and_predicted_on_the_event_loop():
    from runtime.modelserver.images import decode_threads

    existing = set(threading.enumerate())
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert decode_threads() == 0
        recording = Recording(trained()[0])
        serving = ImageServing("one-core", recording, max_batch_size=8, max_latency_ms=5)
    finally:
        os.sched_setaffinity(0, before)
    try:
        assert serving.threads == 0 and serving.predictor.inline
        got = await answers(serving, mixed_requests(9))
    finally:
        await serving.close()
    assert not [g for g in got if isinstance(g, BaseException)]
    assert recording.threads == {threading.current_thread().name}
    started = [t.name for t in set(threading.enumerate()) - existing]
    assert not [name for name in started if name.startswith(("decode", "predict"))], started


class OnGpu(Recording):
    """The classifier as if placed on a GPU (it still computes on the CPU here)."""

    def describe(self):
        return {**self.inner.describe(), "device": "cuda:0"}


@pytest.mark.parametrize(
    ("classifier", "threads", "where"),
    [(Recording, 2, "predict"), (OnGpu, 0, "predict"), (Recording, 0, "loop")],
    ids=["threads", "one-core-gpu", "one-core-cpu"],
)
async def test_the_forward_pass_leaves_the_loop_unless_the_model_is_on_the_cpu_of_one_core(classifier, threads, where):
    recording = classifier(trained()[0])
    serving = ImageServing("where", recording, max_batch_size=4, max_latency_ms=5, threads=threads)
    try:
        got = await answers(serving, mixed_requests(6))
    finally:
        await serving.close()
    assert not [g for g in got if isinstance(g, BaseException)]
    loop_thread = threading.current_thread().name
    if where == "loop":
        assert recording.threads == {loop_thread}
    else:
        assert recording.threads and all(t.startswith("predict") for t in recording.threads), recording.threads
