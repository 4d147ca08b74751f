"""Images for models: decoding, checks, resizing and statistics (Pillow); the CNN lives in
``runtime.vision.network`` and ``runtime.vision.classifier``, which import torch."""

from runtime.vision.preprocess import DecodedImage, Preprocessing, decode_image, from_pixels, to_tensor
from runtime.vision.stats import DECODE_FAILED, STAT_NAMES, image_stats

__all__ = [
    "Preprocessing",
    "DecodedImage",
    "decode_image",
    "from_pixels",
    "to_tensor",
    "image_stats",
    "STAT_NAMES",
    "DECODE_FAILED",
]
