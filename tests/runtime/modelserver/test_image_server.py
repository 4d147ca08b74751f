"""The registered image classifier behind `python -m runtime.modelserver` and the gateway."""

import asyncio
import base64

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.mlflow_state import mlflow_state
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve
from tests.runtime.modelserver.servers import start_server
from tests.vision_model import heldout, png, registered

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vision_server(tmp_path_factory):
    model = registered()
    log = tmp_path_factory.mktemp("vision") / "server.log"
    server = start_server(
        ["--model_name", "vision", "--model_dir", model["uri"], "--max_batch_size", "16", "--max_latency_ms", "10"],
        log,
        env={"MLFLOW_TRACKING_URI": model["tracking_uri"]},
        timeout=180,
    )
    yield server
    assert server.stop() == 0, server.output()


def body(images: list) -> dict:
    """JPEG/PNG as base64 BYTES; a lone raw image as UINT8 pixels."""
    if len(images) == 1 and isinstance(images[0], np.ndarray):
        array = images[0][None]
        return {
            "inputs": [
                {"name": "image", "datatype": "UINT8", "shape": list(array.shape), "data": array.ravel().tolist()}
            ]
        }
    files = [png(v) if isinstance(v, np.ndarray) else v for v in images]
    data = [base64.b64encode(f).decode() for f in files]
    return {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [len(data)], "data": data}]}


def test_metadata_says_images_in_class_and_scores_out_and_where_it_runs(vision_server):
    metadata = httpx.get(f"{vision_server.url}/v2/models/vision").json()
    assert metadata["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in metadata["outputs"]] == ["class", "scores"]
    assert metadata["parameters"]["device"] == "cpu" and metadata["parameters"]["precision"] == "fp32"
    metrics = httpx.get(f"{vision_server.url}/metrics").text
    assert 'ml_serving_model_device_info{device="cpu",model="vision",precision="fp32"} 1.0' in metrics


async def test_heldout_accuracy_through_the_gateway_matches_in_process(vision_server):
    import mlflow

    images, labels = heldout()
    with mlflow_state(registered()["tracking_uri"]):
        in_process = (
            mlflow.pyfunc.load_model(registered()["uri"])
            .unwrap_python_model()
            .predict(None, pd.Series(images))["class"]
        )
    rng = np.random.default_rng(0)
    cuts = np.cumsum(rng.integers(1, 5, len(images)))
    groups = [list(range(a, min(b, len(images)))) for a, b in zip([0, *cuts], cuts) if a < len(images)]
    spec = model_spec(
        variants=[{"model": "models:/vision/1", "role": "primary", "weight": 100}],
        latencyBudgetMs=20000,
        fallback={"value": "unknown"},
    )
    config = gateway_config(spec, {"v1": vision_server.url}, model="vision", max_body_bytes=4_000_000)
    served = np.empty(len(images), dtype=object)
    limit = asyncio.Semaphore(8)
    async with serve(config) as client:

        async def send(group: list[int]) -> None:
            async with limit:
                response = await client.post("/v2/models/vision/infer", json=body([images[i] for i in group]))
            assert response.status_code == 200, response.text
            assert "x-ml-serving-fallback" not in response.headers
            classes = next(o for o in response.json()["outputs"] if o["name"] == "class")["data"]
            served[group] = classes

        await asyncio.gather(*(send(g) for g in groups))
    truth = labels.astype(str)
    gateway_accuracy = float((served == truth).mean())
    own_accuracy = float((in_process == truth).mean())
    assert gateway_accuracy == pytest.approx(own_accuracy, abs=1 / len(images))
    assert (served == in_process).mean() >= 1 - 1 / len(images)
    assert own_accuracy >= 0.9


async def test_a_bad_image_gets_400_naming_it_through_the_gateway(vision_server):
    spec = model_spec(variants=[{"model": "models:/vision/1", "role": "primary", "weight": 100}], latencyBudgetMs=5000)
    config = gateway_config(spec, {"v1": vision_server.url}, model="vision")
    images, _ = heldout()
    good = next(v for v in images if isinstance(v, bytes))
    data = [base64.b64encode(good).decode(), base64.b64encode(b"not an image at all").decode()]
    async with serve(config) as client:
        response = await client.post(
            "/v2/models/vision/infer",
            json={"inputs": [{"name": "image", "datatype": "BYTES", "shape": [2], "data": data}]},
        )
        assert response.status_code == 400
        assert response.json()["error"].startswith("Input 'image'[1]: not an image")
        again = await client.post("/v2/models/vision/infer", json=body([good]))
        assert again.status_code == 200


def test_tritonclient_sends_encoded_and_raw_images_as_binary_tensors(vision_server):
    import tritonclient.http as triton

    images, _ = heldout()
    files = [png(v) if isinstance(v, np.ndarray) else v for v in images[:6]]
    raw = next(v for v in images if isinstance(v, np.ndarray))
    client = triton.InferenceServerClient(url=vision_server.url.removeprefix("http://"))
    try:
        encoded = triton.InferInput("image", [len(files)], "BYTES")
        encoded.set_data_from_numpy(np.array(files, dtype=np.object_), binary_data=True)
        result = client.infer("vision", [encoded], outputs=[triton.InferRequestedOutput("class", binary_data=True)])
        by_json = httpx.post(f"{vision_server.url}/v2/models/vision/infer", json=body(files), timeout=30).json()
        expected = next(o for o in by_json["outputs"] if o["name"] == "class")["data"]
        assert [c.decode() for c in result.as_numpy("class")] == expected
        pixels = triton.InferInput("image", [1, *raw.shape], "UINT8")
        pixels.set_data_from_numpy(raw[None], binary_data=True)
        result = client.infer("vision", [pixels])
        alone = httpx.post(f"{vision_server.url}/v2/models/vision/infer", json=body([raw]), timeout=30).json()
        assert result.as_numpy("scores").shape == (1, 10)
        assert [c.decode() if isinstance(c, bytes) else str(c) for c in result.as_numpy("class")] == next(
            o for o in alone["outputs"] if o["name"] == "class"
        )["data"]
    finally:
        client.close()


def test_images_out_of_time_before_their_batch_are_not_predicted(vision_server):
    """The image path honours the caller's deadline as the tabular one does (503, not predicted)."""
    from runtime.protocol.deadline import TIMEOUT_HEADER

    images, _ = heldout()
    good = next(v for v in images if isinstance(v, bytes))
    url = f"{vision_server.url}/v2/models/vision/infer"
    late = httpx.post(url, json=body([good, good]), headers={TIMEOUT_HEADER: "0"}, timeout=30)
    assert late.status_code == 503, late.text
    assert "timeout ran out" in late.json()["error"] and "not predicted" in late.json()["error"]
    within = httpx.post(url, json=body([good]), headers={TIMEOUT_HEADER: "30000"}, timeout=30)
    assert within.status_code == 200, within.text
