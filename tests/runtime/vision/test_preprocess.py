import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from runtime.errors import InvalidInput
from runtime.vision.preprocess import Preprocessing, decode_image, from_pixels, to_tensor
from tests.vision_model import jpeg, png

PREP = Preprocessing(size=16)


def _pixels(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, width * height * 3).reshape(height, width, 3)
    return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` and whose data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_png_and_raw_pixels_give_the_same_tensor_and_jpeg_a_close_one():
    pixels = _pixels(40, 30)
    raw = to_tensor(from_pixels(pixels, PREP), PREP)
    assert raw.shape == (3, 16, 16) and raw.dtype == np.float32
    np.testing.assert_array_equal(to_tensor(decode_image(png(pixels), PREP), PREP), raw)
    assert np.abs(to_tensor(decode_image(jpeg(pixels, 95), PREP), PREP) - raw).mean() < 0.1


def test_a_large_jpeg_is_reduced_while_decoding_and_keeps_its_size_as_sent():
    decoded = decode_image(jpeg(_pixels(640, 480)), PREP)
    assert (decoded.width, decoded.height, decoded.format) == (640, 480, "JPEG")
    assert max(decoded.image.size) < 640 and min(decoded.image.size) >= 2 * PREP.size


def test_pad_keeps_the_aspect_ratio_on_the_border_colour_and_stretch_fills():
    pixels = np.full((20, 60, 3), 200, dtype=np.uint8)
    pixels[:, 25:35] = 0  # a dark bar in the middle
    padded = to_tensor(from_pixels(pixels, PREP), PREP)
    stretched = to_tensor(
        from_pixels(pixels, Preprocessing(size=16, aspect="stretch")), Preprocessing(size=16, aspect="stretch")
    )
    border = (200 / 255 - 0.5) / 0.25
    assert padded[:, 0, :] == pytest.approx(border, abs=1e-5)  # the letterbox rows
    assert padded[:, 8, 8].max() < border  # the bar survives in the middle
    assert stretched[:, 0, 8].max() < border  # stretched, the bar reaches the top row


def test_greyscale_and_palette_images_become_rgb():
    grey = Image.fromarray(_pixels(20, 20)[:, :, 0])
    buffer = io.BytesIO()
    grey.convert("P").save(buffer, format="PNG")
    assert decode_image(buffer.getvalue(), PREP).image.mode == "RGB"
    assert to_tensor(from_pixels(_pixels(20, 20)[:, :, 0], PREP), PREP).shape == (3, 16, 16)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is not an image", "not an image"),
        (b"GIF89a" + b"\0" * 40, "not an image"),
        (jpeg(_pixels(64, 64))[:300], "truncated or corrupt"),
        (png(_pixels(64, 64))[:200], "truncated or corrupt"),
        (_png_header(20_000, 10), "absurd size"),
        (_png_header(100_000, 100_000), "decompression bomb"),
        (_png_header(8_000, 6_000), "decompression bomb"),
    ],
    ids=["empty", "text", "gif", "truncated-jpeg", "truncated-png", "absurd", "huge", "bomb"],
)
def test_bad_images_are_refused_naming_the_input_and_position(data, message):
    with pytest.raises(InvalidInput) as caught:
        decode_image(data, PREP, "image", 3)
    assert caught.value.message.startswith("Input 'image'[3]: ")
    assert message in caught.value.message


def test_raw_pixels_must_be_uint8_images():
    with pytest.raises(InvalidInput, match=r"Input 'image'\[0\]: raw pixels must be UINT8"):
        from_pixels(np.zeros((4, 4, 3), dtype=np.float32), PREP)
    with pytest.raises(InvalidInput, match=r"expected \[height, width, 3\]"):
        from_pixels(np.zeros((4, 4, 2), dtype=np.uint8), PREP)


def test_the_declared_preprocessing_is_checked():
    with pytest.raises(ValueError, match="interpolation 'cubic'"):
        Preprocessing(interpolation="cubic")
    with pytest.raises(ValueError, match="aspect 'crop'"):
        Preprocessing(aspect="crop")
    assert Preprocessing.from_dict(PREP.to_dict()) == PREP
