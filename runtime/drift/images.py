"""Image inputs as drift features: each image becomes a row of statistics the tests can compare.

A profile built by ``runtime.registry.images`` names its image input in its metadata
(``ml_serving.image_input``); the monitor then turns that input's values (encoded images as the
V2 JSON carries them, base64, or bytes) into the columns of ``runtime.vision.stats`` plus
``decode_failed`` (1 when a value is no decodable image: its statistics are missing). The
statistics are computed on a reduced copy, with the same settings at training and at serving,
so that only the images, never the code path, can move them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from runtime.errors import InvalidInput
from runtime.vision.preprocess import Preprocessing, decode_image, from_pixels
from runtime.vision.stats import DECODE_FAILED, STAT_NAMES, image_stats

__all__ = ["stats_frame", "expand_images", "IMAGE_INPUT_KEY", "STATS_PREPROCESSING"]

IMAGE_INPUT_KEY = "ml_serving.image_input"
STATS_PREPROCESSING = Preprocessing(size=32)
"""Decoding limits and the JPEG reduction used for statistics, whatever the model's own size."""
_MISSING = dict.fromkeys(STAT_NAMES, float("nan"))


def _stats(value: Any) -> dict[str, float] | None:
    try:
        if isinstance(value, str):
            value = base64.b64decode(value, validate=True)
        if isinstance(value, (bytes, bytearray, memoryview)):
            decoded = decode_image(bytes(value), STATS_PREPROCESSING)
        elif isinstance(value, np.ndarray) and value.ndim >= 2:
            decoded = from_pixels(value, STATS_PREPROCESSING)
        else:
            return None
    except (InvalidInput, binascii.Error, ValueError):
        return None
    return image_stats(decoded)


def stats_frame(values: Any) -> pd.DataFrame:
    """Statistics of each image (a row per value) and ``decode_failed`` (0 or 1)."""
    rows: list[dict[str, float]] = []
    failed: list[int | None] = []
    for value in values:
        if value is None:  # a row that carried no image at all (e.g. another input's row): missing
            rows.append(_MISSING)
            failed.append(None)
            continue
        stats = _stats(value)
        rows.append(stats or _MISSING)
        failed.append(0 if stats is not None else 1)
    frame = pd.DataFrame(rows, columns=list(STAT_NAMES), dtype=np.float64)
    frame[DECODE_FAILED] = pd.array(failed, dtype="Int64")
    return frame


def expand_images(inputs: Mapping[str, Any], metadata: Mapping[str, str]) -> Mapping[str, Any]:
    """``inputs`` with the profile's image input replaced by its statistics' columns."""
    name = metadata.get(IMAGE_INPUT_KEY)
    if not name or name not in inputs:
        return inputs
    frame = stats_frame(inputs[name])
    expanded = {k: v for k, v in inputs.items() if k != name}
    for column in frame.columns:
        values = frame[column]
        expanded[column] = (
            values.to_numpy(dtype=np.float64)
            if column != DECODE_FAILED
            else values.astype(object).where(values.notna(), None).tolist()
        )
    return expanded
