"""Images in: decode (JPEG, PNG, raw UINT8 pixels), check, resize and normalize to a model tensor.

Every image is refused with ``InvalidInput`` naming the input and its position when it is not an
image, is truncated, declares an absurd size or would decompress to more pixels than allowed
(a decompression bomb): the size is read from the header and checked before any pixel is
decoded. Resizing is declared by ``Preprocessing``: the interpolation, and how the aspect ratio
is handled (``pad``: letterbox onto a square of the image's border colour; ``stretch``). A large
JPEG is first reduced in the DCT domain (``Image.draft``) to no less than twice the target size,
which keeps the antialiased resize that follows and costs a fraction of a full decode.

JPEGs are decoded by simplejpeg (libjpeg-turbo, called straight from C into a numpy array, with
the same reduction), about 0.15 ms less per 640x480 photograph than through Pillow's Python
layers; anything it does not read cleanly (a truncated or corrupt file, CMYK) goes to Pillow,
which reads it or says what is wrong with it.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

from runtime.errors import InvalidInput

__all__ = ["Preprocessing", "DecodedImage", "decode_image", "from_pixels", "to_tensor", "INTERPOLATIONS", "ASPECTS"]

INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
ASPECTS = ("pad", "stretch")
_FORMATS = ("JPEG", "PNG")


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model's input; stored with the model and reported in its metadata."""

    size: int = 32
    """Side of the square the model sees."""
    interpolation: str = "bilinear"
    """Resampling filter of the resize (antialiased when shrinking): one of ``INTERPOLATIONS``."""
    aspect: str = "pad"
    """``pad`` keeps the aspect ratio (letterbox on the border colour); ``stretch`` ignores it."""
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    """Per channel, on pixel values scaled to [0, 1]."""
    max_pixels: int = 40_000_000
    """Most pixels (width x height) an image may declare; more is refused before decoding."""
    max_side: int = 16_384
    formats: tuple[str, ...] = field(default=_FORMATS)
    """Encoded formats accepted."""

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation '{self.interpolation}': expected one of {', '.join(INTERPOLATIONS)}")
        if self.aspect not in ASPECTS:
            raise ValueError(f"aspect '{self.aspect}': expected one of {', '.join(ASPECTS)}")
        if self.size < 4:
            raise ValueError(f"size {self.size}: expected at least 4 pixels")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @functools.cached_property
    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """``(factor, shift)`` per channel, shaped ``[3, 1, 1]``: normalized = pixel * factor + shift."""
        std = np.asarray(self.std, dtype=np.float64)
        factor = (1.0 / (255.0 * std)).astype(np.float32).reshape(3, 1, 1)
        shift = (-np.asarray(self.mean, dtype=np.float64) / std).astype(np.float32).reshape(3, 1, 1)
        return factor, shift

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An RGB image (already reduced for a large JPEG) and what the caller sent."""

    image: Image.Image
    width: int
    """Width as sent (before any reduction)."""
    height: int
    format: str
    """``JPEG``, ``PNG`` or ``UINT8`` for raw pixels."""


def _where(name: str, index: int) -> str:
    return f"Input '{name}'[{index}]"


def _check_size(width: int, height: int, prep: Preprocessing, where: str) -> None:
    if width < 1 or height < 1 or width > prep.max_side or height > prep.max_side:
        raise InvalidInput(
            f"{where}: image of {width}x{height} pixels has an absurd size; expected sides of 1 to {prep.max_side} pixels"
        )
    if width * height > prep.max_pixels:
        raise InvalidInput(
            f"{where}: image of {width}x{height} = {width * height} pixels is over the limit of {prep.max_pixels} "
            "(a decompression bomb, or far larger than the model needs); send a smaller image"
        )


_JPEG_START = b"\xff\xd8\xff"
_JPEG_COLOURS = ("Gray", "YCbCr", "RGB")
"""Colour spaces of the JPEGs simplejpeg decodes to RGB; others (CMYK, YCCK) go to Pillow."""


def _draft_scale(width: int, height: int, size: tuple[int, int]) -> int:
    """The DCT reduction ``Image.draft`` picks for ``size``: the largest of 8, 4, 2, 1 that fits."""
    scale = min(width // size[0], height // size[1])
    return next((s for s in (8, 4, 2) if scale >= s), 1)


def _fast_jpeg(data: bytes, prep: Preprocessing, where: str) -> DecodedImage | None:
    """A JPEG decoded by simplejpeg at Pillow's draft reduction; None when Pillow should read it."""
    try:
        height, width, colours, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    _check_size(width, height, prep, where)
    if colours not in _JPEG_COLOURS:
        return None
    scale = _draft_scale(width, height, (2 * prep.size, 2 * prep.size))
    # libjpeg rounds scaled sides up: the smallest output of at least these sides is the reduction
    # by `scale`. The accurate DCT and smooth upsampling, as Pillow's draft decodes: the same pixels.
    try:
        pixels = simplejpeg.decode_jpeg(
            data, "RGB", fastdct=False, fastupsample=False, min_height=-(-height // scale), min_width=-(-width // scale)
        )
    except ValueError:
        return None
    return DecodedImage(image=Image.fromarray(pixels), width=width, height=height, format="JPEG")


def decode_image(data: bytes, prep: Preprocessing, name: str = "image", index: int = 0) -> DecodedImage:
    """Decode encoded image bytes (JPEG or PNG) to RGB, refusing bad images with a clear error."""
    where = _where(name, index)
    if not data:
        raise InvalidInput(f"{where}: empty; expected the bytes of a {' or '.join(prep.formats)} image")
    if "JPEG" in prep.formats and data[:3] == _JPEG_START:
        fast = _fast_jpeg(data, prep, where)
        if fast is not None:
            return fast
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=list(prep.formats))
    except UnidentifiedImageError:
        raise InvalidInput(
            f"{where}: not an image; expected the bytes of a {' or '.join(prep.formats)} image"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(f"{where}: refused as a decompression bomb ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidInput(f"{where}: the image is truncated or corrupt: its header cannot be read ({exc})") from None
    width, height = image.size
    _check_size(width, height, prep, where)
    kind = image.format or "?"
    if kind == "JPEG":
        image.draft("RGB", (2 * prep.size, 2 * prep.size))
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"{where}: the {kind} data is truncated or corrupt ({exc})") from None
    if image.mode != "RGB":
        image = (
            image.convert("RGBA").convert("RGB")
            if "A" in image.getbands() or image.mode == "P"
            else image.convert("RGB")
        )
    return DecodedImage(image=image, width=width, height=height, format=kind)


def from_pixels(array: np.ndarray, prep: Preprocessing, name: str = "image", index: int = 0) -> DecodedImage:
    """Raw UINT8 pixels of one image, ``[height, width, 3]`` (RGB) or ``[height, width]`` (grey)."""
    where = _where(name, index)
    if array.dtype != np.uint8:
        raise InvalidInput(f"{where}: raw pixels must be UINT8, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise InvalidInput(
            f"{where}: raw pixels of shape {list(array.shape)}; expected [height, width, 3] or [height, width]"
        )
    height, width = array.shape[:2]
    _check_size(width, height, prep, where)
    image = Image.fromarray(np.ascontiguousarray(array)).convert("RGB")
    return DecodedImage(image=image, width=width, height=height, format="UINT8")


def _border_colour(image: Image.Image) -> tuple[int, ...]:
    """The median colour of the outermost pixels (each channel on its own, halves rounded down)."""
    pixels = np.asarray(image)
    border = np.sort(np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]), axis=0).astype(np.int32)
    half = len(border) // 2
    middle = border[half] if len(border) % 2 else (border[half - 1] + border[half]) // 2
    return tuple(int(v) for v in middle)


def to_tensor(decoded: DecodedImage, prep: Preprocessing) -> np.ndarray:
    """The model's input for one image: float32 ``[3, size, size]``, normalized per channel."""
    image = decoded.image
    size = prep.size
    resample = INTERPOLATIONS[prep.interpolation]
    if prep.aspect == "pad" and image.width != image.height:
        scale = size / max(image.width, image.height)
        inner = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        canvas = Image.new("RGB", (size, size), _border_colour(image))
        canvas.paste(image.resize(inner, resample), ((size - inner[0]) // 2, (size - inner[1]) // 2))
        image = canvas
    elif image.size != (size, size):
        image = image.resize((size, size), resample)
    factor, shift = prep.affine
    # One pass from the pixels, channels first: (x / 255 - mean) / std, as x * factor + shift.
    out = np.empty((3, size, size), dtype=np.float32)
    np.multiply(np.asarray(image).transpose(2, 0, 1), factor, out=out)
    out += shift
    return out
