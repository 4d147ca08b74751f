"""What an image looks like, in a few numbers a drift test can compare (no model needed).

Width, height and aspect come from the image as sent; brightness (mean luma), contrast (luma
standard deviation) and the channel means from a small copy of it, so a camera that is darker,
turned or of another resolution shows up like a shift in a tabular feature.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from runtime.vision.preprocess import DecodedImage

__all__ = ["STAT_NAMES", "image_stats", "DECODE_FAILED"]

STAT_NAMES = ("width", "height", "aspect", "brightness", "contrast", "mean_r", "mean_g", "mean_b")
DECODE_FAILED = "decode_failed"
"""1 for a value that is not a decodable image, else 0."""
_THUMBNAIL = 64
_LUMA = np.asarray([0.299, 0.587, 0.114], dtype=np.float32)


def image_stats(decoded: DecodedImage) -> dict[str, float]:
    """The image's statistics, pixel values scaled to [0, 1]."""
    image = decoded.image
    if max(image.size) > _THUMBNAIL:
        image = image.copy()
        image.thumbnail((_THUMBNAIL, _THUMBNAIL), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32).reshape(-1, 3) * (1.0 / 255.0)
    luma = pixels @ _LUMA
    means = pixels.mean(axis=0)
    return {
        "width": float(decoded.width),
        "height": float(decoded.height),
        "aspect": decoded.width / decoded.height,
        "brightness": float(luma.mean()),
        "contrast": float(luma.std()),
        "mean_r": float(means[0]),
        "mean_g": float(means[1]),
        "mean_b": float(means[2]),
    }
