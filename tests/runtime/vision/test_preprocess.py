import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from runtime.errors import InvalidInput
from runtime.vision import preprocess
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


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is changed to declare ``width`` x ``height``."""
    data = bytearray(jpeg(_pixels(16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _pillow_draft(data: bytes) -> np.ndarray:
    """What Pillow alone decodes: the draft reduction to twice the model's side, then RGB."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (2 * PREP.size, 2 * PREP.size))
    return np.asarray(image.convert("RGB"))


def _encoded_jpeg(pixels: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("width", "height", "options"),
    [
        (640, 480, {"quality": 90}),
        (100, 100, {"quality": 50, "subsampling": 1}),
        (129, 257, {"quality": 90, "subsampling": 2}),
        (63, 65, {"quality": 75, "subsampling": 0}),
        (31, 17, {"quality": 90}),
        (1000, 999, {"quality": 60, "progressive": True}),
        (200, 33, {"grey": True, "quality": 80}),
    ],
    ids=["640x480", "halved-422", "quartered-420", "unreduced-444", "smaller-than-asked", "progressive", "grey"],
)
def test_jpegs_decode_to_the_very_pixels_pillows_draft_gives(width, height, options):
    options = dict(options)
    pixels = _pixels(width, height, seed=width)
    data = _encoded_jpeg(pixels[:, :, 0] if options.pop("grey", False) else pixels, **options)
    assert preprocess._fast_jpeg(data, PREP, "image") is not None
    decoded = decode_image(data, PREP)
    assert (decoded.width, decoded.height, decoded.format, decoded.image.mode) == (width, height, "JPEG", "RGB")
    np.testing.assert_array_equal(np.asarray(decoded.image), _pillow_draft(data))


def test_a_cmyk_jpeg_is_left_to_pillow_and_still_read():
    data = _encoded_jpeg(_pixels(64, 48))
    cmyk = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("CMYK").save(cmyk, format="JPEG")
    assert preprocess._fast_jpeg(cmyk.getvalue(), PREP, "image") is None
    decoded = decode_image(cmyk.getvalue(), PREP)
    assert decoded.image.mode == "RGB" and (decoded.width, decoded.height) == (64, 48)


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
        (jpeg(_pixels(640, 480))[:9000], "truncated or corrupt"),
        (_jpeg_declaring(20_000, 10), "absurd size"),
        (_jpeg_declaring(8_000, 6_000), "decompression bomb"),
    ],
    ids=[
        "empty",
        "text",
        "gif",
        "truncated-jpeg",
        "truncated-png",
        "absurd",
        "huge",
        "bomb",
        "truncated-jpeg-past-its-header",
        "absurd-jpeg",
        "bomb-jpeg",
    ],  # fmt: skip
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
