"""Image requests on the model server: decode in worker threads, one batch tensor per forward pass.

A request carries one input of images, either encoded (``BYTES``, shape ``[n]``: base64 strings
in JSON, raw bytes when a binary transport delivers them) or raw pixels (``UINT8``,
``[n, height, width, 3]`` RGB or ``[n, height, width]`` grey). Each
image is decoded, checked, resized and normalized in a pool of worker threads (Pillow releases
the GIL while it decodes and resizes), so decoding the next requests overlaps the forward pass
of the current batch. A bad image fails its own request with 400 before it reaches the batcher,
so it never touches anyone else's. The prepared ``[k, 3, s, s]`` tensors go to the adaptive
batcher, which joins them into one batch tensor of at most ``max_batch_size`` images for one
forward pass; a request of more images is cut into pieces that fit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from prometheus_client import Counter, Gauge

from runtime.batching import AdaptiveBatcher, Unbatched
from runtime.errors import InvalidInput
from runtime.protocol import InferenceRequest, InputSpec, TensorMetadata, decode_input
from runtime.vision.classifier import CLASS_OUTPUT, IMAGE_INPUT, SCORES_OUTPUT

__all__ = ["ImageServing", "DEVICE_INFO", "IMAGES_REFUSED"]

DEVICE_INFO = Gauge(
    "ml_serving_model_device_info",
    "Where a model runs (1 for its device and precision).",
    ["model", "device", "precision"],
)
IMAGES_REFUSED = Counter(
    "ml_serving_images_refused_total", "Images refused as undecodable or out of limits.", ["model"]
)


def _workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))


class ImageServing:
    """The image path of one served model: ``classifier`` is the loaded ``ImageClassifier``."""

    def __init__(self, name: str, classifier: Any, max_batch_size: int | None, max_latency_ms: float | None) -> None:
        self.name = name
        self.classifier = classifier
        self.prep = classifier.prep
        self.max_batch_size = max_batch_size
        self._pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="decode")
        if max_batch_size:
            self.predictor: AdaptiveBatcher | Unbatched = AdaptiveBatcher(
                classifier.forward, max_batch_size=max_batch_size, max_latency_ms=max_latency_ms or 10, model=name
            )
        else:
            self.predictor = Unbatched(classifier.forward)
        info = classifier.describe()
        DEVICE_INFO.labels(name, info["device"], info["precision"]).set(1)

    # --- metadata ----------------------------------------------------------------------------

    def inputs(self) -> tuple[InputSpec, ...]:
        return (InputSpec(IMAGE_INPUT, "BYTES", (-1,)),)

    def outputs(self) -> tuple[TensorMetadata, ...]:
        return (
            TensorMetadata(name=CLASS_OUTPUT, datatype="BYTES", shape=[-1]),
            TensorMetadata(name=SCORES_OUTPUT, datatype="FP32", shape=[-1, len(self.classifier.labels)]),
        )

    def parameters(self) -> dict[str, Any]:
        return {
            **self.classifier.describe(),
            "accepts": "BYTES [n] (JPEG or PNG; base64 in JSON) or UINT8 [n, h, w, 3] / [n, h, w]",
        }

    # --- requests ----------------------------------------------------------------------------

    def images_of(self, request: InferenceRequest) -> list[Any]:
        """The request's images as sent (bytes, or one UINT8 array each); errors name the input."""
        if len(request.inputs) != 1:
            names = ", ".join(i.name for i in request.inputs)
            raise InvalidInput(
                f"this model takes one input '{IMAGE_INPUT}' of images (BYTES [n] or UINT8 [n, h, w, 3]); got {len(request.inputs)}: {names}"
            )
        inp = request.inputs[0]
        if inp.datatype == "BYTES":
            if not (len(inp.shape) == 1 or (len(inp.shape) == 2 and inp.shape[1] == 1)):
                raise InvalidInput(
                    f"Input '{inp.name}': BYTES shape {inp.shape}; expected [n], one encoded image per row"
                )
            values = decode_input(inp.name, "BYTES", inp.shape, inp.data).reshape(-1).tolist()
            images = [_encoded(inp.name, i, v) for i, v in enumerate(values)]
        elif inp.datatype == "UINT8":
            if not (len(inp.shape) == 3 or (len(inp.shape) == 4 and inp.shape[3] in (1, 3))):
                raise InvalidInput(
                    f"Input '{inp.name}': UINT8 shape {inp.shape}; expected [n, height, width, 3] (RGB) or [n, height, width] (grey)"
                )
            images = list(decode_input(inp.name, "UINT8", inp.shape, inp.data))
        else:
            raise InvalidInput(
                f"Input '{inp.name}': datatype {inp.datatype}; expected BYTES (encoded images) or UINT8 (pixels)"
            )
        if not images:
            raise InvalidInput(f"Input '{inp.name}' has no images; expected at least one")
        return images

    async def prepare(self, images: list[Any]) -> np.ndarray:
        """``[n, 3, s, s]`` float32 for the request's images, decoded in the worker threads."""
        loop = asyncio.get_running_loop()
        prep = self.prep
        jobs = [loop.run_in_executor(self._pool, self.classifier.prepare, v, i, prep) for i, v in enumerate(images)]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        arrays = []
        for result in results:
            if isinstance(result, BaseException):
                IMAGES_REFUSED.labels(self.name).inc()
                raise result
            arrays.append(result)
        return np.stack(arrays)

    async def predict(self, request: InferenceRequest) -> dict[str, np.ndarray]:
        """Class and scores for every image of the request, in order."""
        batch = await self.prepare(self.images_of(request))
        size = self.max_batch_size or len(batch)
        if len(batch) <= size:
            return await self.predictor.predict(batch, len(batch))
        pieces = await asyncio.gather(
            *(self.predictor.predict(batch[s : s + size], len(batch[s : s + size])) for s in range(0, len(batch), size))
        )
        return {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]}

    def warm_up(self) -> None:
        blank = np.zeros((1, 3, self.prep.size, self.prep.size), dtype=np.float32)
        for rows in sorted({1, self.max_batch_size or 1}):
            self.classifier.forward(np.repeat(blank, rows, axis=0))

    async def close(self) -> None:
        await self.predictor.close()
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)


def _encoded(name: str, index: int, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            f"Input '{name}'[{index}]: not base64; in JSON, BYTES images travel as base64 strings of the JPEG or PNG file"
        ) from None
