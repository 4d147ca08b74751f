"""What an image looks like, in a few numbers a drift test can compare (no model needed).

Width, height and aspect come from the image as sent; brightness (mean luma), contrast (luma
standard deviation), the channel means and ``edges_x`` (the share of the luma gradient that runs
along x: strokes across the image rather than down it) from a small copy of it, so a camera that
is darker, turned or of another resolution shows up like a shift in a tabular feature.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from runtime.vision.preprocess import DecodedImage

__all__ = ["STAT_NAMES", "image_stats", "DECODE_FAILED"]

STAT_NAMES = ("width", "height", "aspect", "brightness", "contrast", "mean_r", "mean_g", "mean_b", "edges_x")
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
    grid = np.asarray(image, dtype=np.float32) * (1.0 / 255.0)
    pixels = grid.reshape(-1, 3)
    luma = pixels @ _LUMA
    means = pixels.mean(axis=0)
    plane = grid @ _LUMA
    along_x = float(np.abs(np.diff(plane, axis=1)).sum())
    along_y = float(np.abs(np.diff(plane, axis=0)).sum())
    return {
        "width": float(decoded.width),
        "height": float(decoded.height),
        "aspect": decoded.width / decoded.height,
        "brightness": float(luma.mean()),
        "contrast": float(luma.std()),
        "mean_r": float(means[0]),
        "mean_g": float(means[1]),
        "mean_b": float(means[2]),
        "edges_x": along_x / (along_x + along_y) if along_x + along_y > 0 else 0.5,
    }
