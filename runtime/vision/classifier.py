"""The image classifier as an MLflow pyfunc model: images in, class and scores out.

The weights (a ``state_dict``, loaded with ``weights_only``) and the preprocessing travel as
artifacts of the model version. The model server calls ``prepare`` (decode, check, resize,
normalize one image; any thread) and ``forward`` (one batch tensor, one pass on the device);
``predict`` does both for in-process use, so a loaded pyfunc answers like the server does.
"""

from __future__ import annotations

import json
import os
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from runtime.cores import usable_cores
from runtime.errors import InvalidInput
from runtime.vision.preprocess import DecodedImage, Preprocessing, decode_image, from_pixels, to_tensor

__all__ = ["ImageClassifier", "IMAGE_INPUT", "CLASS_OUTPUT", "SCORES_OUTPUT", "MODEL_KIND", "HALF_ENV", "decode_value"]

IMAGE_INPUT = "image"
CLASS_OUTPUT = "class"
SCORES_OUTPUT = "scores"
MODEL_KIND = "image-classifier"
"""``metadata["ml_serving.kind"]`` of a logged model: the model server takes images for it."""
HALF_ENV = "ML_SERVING_HALF_PRECISION"


def decode_value(value: Any, prep: Preprocessing, name: str = IMAGE_INPUT, index: int = 0) -> DecodedImage:
    """One image as sent: encoded bytes, or raw UINT8 pixels."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return decode_image(bytes(value), prep, name, index)
    if isinstance(value, np.ndarray):
        return from_pixels(value, prep, name, index)
    raise InvalidInput(f"Input '{name}'[{index}]: expected image bytes or UINT8 pixels, got {type(value).__name__}")


class ImageClassifier(mlflow.pyfunc.PythonModel):
    def __init__(self, preprocessing: dict[str, Any], labels: list[str], width: int = 16) -> None:
        self.preprocessing = preprocessing
        self.labels = list(labels)
        self.width = width
        self._net: Any = None
        self.device = "unloaded"
        self.half = False

    # --- loading -----------------------------------------------------------------------------

    def load_context(self, context) -> None:
        self.load_weights(context.artifacts["weights"])

    def load_weights(self, path: str, device: str | None = None, half: bool | None = None) -> None:
        """Load the weights onto the device chosen now (``choose_device``), in half precision
        when declared (``half`` or ``ML_SERVING_HALF_PRECISION``) and the device is a GPU."""
        import torch

        from runtime.vision.network import ResidualCNN, choose_device

        chosen = choose_device(device)
        net = ResidualCNN(classes=len(self.labels), width=self.width)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        if half is None:
            half = os.environ.get(HALF_ENV, "false").lower() in ("1", "true", "yes")
        # On a CPU, FP16 convolutions are slower than FP32 and less exact: declared half precision is for GPUs.
        self.place(net, chosen, half=bool(half) and chosen.type == "cuda")

    def place(self, net: Any, device: Any, half: bool = False) -> None:
        """Serve ``net`` on ``device`` (a ``torch.device``), in FP16 when ``half``.

        CPU and GPU share this and ``forward``: only the device and the dtype differ.
        """
        import torch

        from runtime.vision.network import for_inference

        if device.type == "cpu":
            # Half the usable cores for the forward pass, the rest for the threads that decode images.
            torch.set_num_threads(max(1, usable_cores() // 2))
        # Channels last: the layout oneDNN (CPU) and cuDNN (tensor cores) convolve fastest.
        net = for_inference(net).to(device, memory_format=torch.channels_last)
        self._net = net.half() if half else net
        self.half = half
        self.device = str(device)

    def use_network(self, net: Any) -> None:
        """Serve a network trained in this process, where it is, in float32."""
        self._net = net.eval()
        self.half = False
        self.device = str(next(net.parameters()).device)

    @property
    def prep(self) -> Preprocessing:
        return Preprocessing.from_dict(self.preprocessing)

    def describe(self) -> dict[str, Any]:
        """Where and how the model runs: for the model metadata and the metrics."""
        return {
            "device": self.device,
            "precision": "fp16" if self.half else "fp32",
            "labels": list(self.labels),
            "preprocessing": json.dumps(self.preprocessing, sort_keys=True),
        }

    # --- serving -----------------------------------------------------------------------------

    def prepare(self, value: Any, index: int = 0, prep: Preprocessing | None = None) -> np.ndarray:
        """One image as the network's input ``[3, size, size]`` float32."""
        prep = prep or self.prep
        return to_tensor(decode_value(value, prep, IMAGE_INPUT, index), prep)

    def forward(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """One forward pass over ``[n, 3, size, size]``: the class label and softmax scores per image."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self._net_device(), non_blocking=True)
            x = (x.half() if self.half else x).contiguous(memory_format=torch.channels_last)
            scores = torch.softmax(self._net(x).float(), dim=1).cpu().numpy()
        labels = np.asarray(self.labels, dtype=object)
        return {CLASS_OUTPUT: labels[scores.argmax(axis=1)], SCORES_OUTPUT: scores.astype(np.float32)}

    def _net_device(self):
        return next(self._net.parameters()).device

    # A DataFrame hint: MLflow infers no schema from it (the signature is stated) and converts nothing.
    def predict(
        self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Images as a list, a Series or the ``image`` column of a DataFrame (bytes or UINT8 pixels),
        or one UINT8 array ``[n, height, width, 3]``."""
        if isinstance(model_input, pd.DataFrame):
            model_input = model_input[IMAGE_INPUT] if IMAGE_INPUT in model_input else model_input.iloc[:, 0]
        values = list(model_input)
        prep = self.prep
        batch = np.stack([self.prepare(v, i, prep) for i, v in enumerate(values)])
        return self.forward(batch)
