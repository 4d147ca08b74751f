"""scikit-learn's handwritten digits (shipped with the package) rendered as photographs would be.

Each 8x8 digit becomes an RGB image of its own size and landscape aspect ratio (20 to 96 pixels
high, 1 to 1.5 times as wide, as a camera takes them),
dark ink on tinted paper, with its own contrast, offset, noise and encoding (JPEG of some
quality, PNG, or raw UINT8 pixels). ``shift`` renders the same digits as a changed camera would
(darker, rotated), for the drift demo. Everything is a pure function of the indices and the seed.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image

__all__ = ["digits", "split", "render", "encode", "SOURCE", "SHIFTS"]

SOURCE = "sklearn://datasets.load_digits"
SHIFTS = ("none", "darker", "rotated")


@cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as 8x8 arrays in [0, 1] and their labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype(np.float32), data.target.astype(np.int64)


def split(test_share: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and the held-out digits (stratified by label)."""
    from sklearn.model_selection import train_test_split

    _, labels = digits()
    train, test = train_test_split(np.arange(len(labels)), test_size=test_share, random_state=seed, stratify=labels)
    return np.sort(train), np.sort(test)


def _one(digit: np.ndarray, rng: np.random.Generator, shift: str) -> np.ndarray:
    height = int(rng.integers(20, 97))
    width = max(12, int(round(height * rng.uniform(1.0, 1.5))))
    side = int(height * rng.uniform(0.7, 0.95))
    glyph = Image.fromarray((digit * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BICUBIC)
    ink = np.zeros((height, width), dtype=np.float32)
    x = int(rng.integers(0, width - side + 1))
    y = int(rng.integers(0, height - side + 1))
    ink[y : y + side, x : x + side] = np.asarray(glyph, dtype=np.float32) / 255.0
    paper = rng.uniform(0.7, 1.0) * rng.uniform(0.85, 1.0, 3)
    contrast = rng.uniform(0.55, 0.95)
    pixels = paper[None, None, :] * (1.0 - contrast * ink[:, :, None])
    pixels = pixels + rng.normal(0.0, rng.uniform(0.0, 0.05), pixels.shape)
    if shift == "darker":
        pixels = pixels * 0.35
    pixels = (np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    if shift == "rotated":
        pixels = np.ascontiguousarray(np.rot90(pixels))
    return pixels


def encode(pixels: np.ndarray, kind: str, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=kind, **({"quality": quality} if kind == "JPEG" else {}))
    return buffer.getvalue()


def render(indices: np.ndarray, seed: int, shift: str = "none", raw_share: float = 0.1) -> tuple[list, np.ndarray]:
    """The digits at ``indices`` as images (bytes of a JPEG or PNG, or a UINT8 array) and their labels."""
    if shift not in SHIFTS:
        raise ValueError(f"shift '{shift}': expected one of {', '.join(SHIFTS)}")
    images, labels = digits()
    rng = np.random.default_rng(seed)
    out: list = []
    for index in indices:
        pixels = _one(images[index], rng, shift)
        draw = rng.random()
        if draw < raw_share:
            out.append(pixels)
        elif draw < raw_share + (1 - raw_share) * 0.6:
            out.append(encode(pixels, "JPEG", int(rng.integers(60, 96))))
        else:
            out.append(encode(pixels, "PNG"))
    return out, labels[indices]
