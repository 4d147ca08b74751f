"""ContentCoding on a small Starlette app: coded bodies in, coded answers out as asked, and the faults."""

from __future__ import annotations

import gzip
import os
import tracemalloc
import zlib

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from runtime.contentcoding import ContentCoding, response_coding

LIMIT = 64 * 1024
TEXT = b'{"inputs": [{"name": "x", "shape": [4], "datatype": "FP32", "data": [1.5, 2.5, 3.5, 4.5]}]}' * 20


async def _echo(request: Request) -> Response:
    body = await request.body()
    seen = {k: v for k, v in request.headers.items() if k in ("content-encoding", "content-length")}
    return Response(orjson.dumps({"size": len(body), "headers": seen}) + b" " * 1000 + body)


async def _small(_: Request) -> Response:
    return Response(b"ok")


async def _stream(_: Request) -> StreamingResponse:
    async def parts():
        yield b"a" * 1000
        yield b"b" * 1000

    return StreamingResponse(parts())


def _client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/echo", _echo, methods=["POST"]),
            Route("/small", _small),
            Route("/stream", _stream),
        ]
    )
    wrapped = ContentCoding(app, max_body_bytes=LIMIT, setting="maxBodyBytes")
    # identity: httpx would otherwise ask for gzip itself; each test sets what it asks for.
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wrapped), base_url="http://t", headers={"accept-encoding": "identity"}
    )


def _echoed(response: httpx.Response) -> tuple[dict, bytes]:
    head, _, body = response.content.partition(b" " * 1000)
    return orjson.loads(head), body


def _gzip_members(data: bytes) -> bytes:
    return gzip.compress(data[:100]) + gzip.compress(data[100:])


@pytest.mark.parametrize(
    ("header", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("x-gzip", gzip.compress),
        ("GZIP", gzip.compress),
        ("identity", lambda b: b),
        ("deflate, gzip", lambda b: gzip.compress(zlib.compress(b))),
        ("gzip", _gzip_members),
    ],
)
async def test_a_coded_body_reaches_the_app_decoded_with_its_decoded_length(header, encode):
    async with _client() as client:
        response = await client.post("/echo", content=encode(TEXT), headers={"content-encoding": header})
    assert response.status_code == 200, response.text
    seen, body = _echoed(response)
    assert body == TEXT
    assert seen == {"size": len(TEXT), "headers": {"content-length": str(len(TEXT))}}


def _bomb(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed a megabyte at a time (about 1,000 to 1)."""
    compress = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    return b"".join(compress.compress(zeros) for _ in range(size // len(zeros))) + compress.flush()


async def test_a_decompression_bomb_is_413_naming_the_limit_and_never_inflated_past_it():
    bomb = _bomb(256 * 1024 * 1024)
    assert len(bomb) < LIMIT * 8  # small on the wire, 256 MiB once inflated
    async with _client() as client:
        tracemalloc.start()
        try:
            response = await client.post("/echo", content=bomb, headers={"content-encoding": "gzip"})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 413
    assert response.json() == {
        "error": f"decompressed request body (Content-Encoding: gzip) exceeds the limit of {LIMIT} bytes (maxBodyBytes)"
    }
    assert peak < 4 * 1024 * 1024, f"held {peak} bytes refusing the bomb"


async def test_a_body_exactly_at_the_limit_decoded_passes():
    body = os.urandom(LIMIT)
    async with _client() as client:
        response = await client.post("/echo", content=gzip.compress(body), headers={"content-encoding": "gzip"})
        over = await client.post("/echo", content=gzip.compress(body + b"x"), headers={"content-encoding": "gzip"})
    assert response.status_code == 200 and _echoed(response)[1] == body
    assert over.status_code == 413


@pytest.mark.parametrize(
    ("header", "body", "why"),
    [
        ("gzip", b"\x1f\x8b\x08\x00" + os.urandom(64), "not valid gzip data (Content-Encoding: gzip)"),
        ("gzip", TEXT, "not valid gzip data (Content-Encoding: gzip): Error -3"),
        ("deflate", gzip.compress(TEXT), "not valid deflate data (Content-Encoding: deflate)"),
        ("gzip", gzip.compress(TEXT)[:-12], "ends before it is complete"),
        ("gzip", b"", "ends before it is complete"),
        ("deflate", zlib.compress(TEXT) + b"junk", "data after the end of the stream"),
    ],
    # Named, not shown: the bodies hold random bytes and gzip's timestamp, so ids made of them
    # differ from one collection to the next.
    ids=["gzip-random", "gzip-plain", "deflate-of-gzip", "gzip-cut", "gzip-empty", "deflate-trailing-junk"],
)
async def test_a_corrupt_stream_is_400_naming_the_header(header, body, why):
    async with _client() as client:
        response = await client.post("/echo", content=body, headers={"content-encoding": header})
    assert response.status_code == 400
    assert why in response.json()["error"]


@pytest.mark.parametrize("header", ["br", "gzip, zstd", "compress"])
async def test_an_unknown_coding_is_400_naming_the_header_and_what_is_supported(header):
    async with _client() as client:
        response = await client.post("/echo", content=TEXT, headers={"content-encoding": header})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith(f"Content-Encoding '{header}' is not supported")
    assert "send gzip, deflate or identity" in error
    assert response.headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize(("accept", "coding"), [("gzip", "gzip"), ("deflate", "deflate"), ("gzip, deflate", "gzip")])
async def test_an_answer_is_compressed_only_when_asked(accept, coding):
    async with _client() as client:
        asked = await client.post("/echo", content=TEXT, headers={"accept-encoding": accept})
        plain = await client.post("/echo", content=TEXT)
    # httpx decodes what it is sent; the headers say how it came.
    assert asked.headers["content-encoding"] == coding
    assert asked.headers["vary"] == "Accept-Encoding"
    assert int(asked.headers["content-length"]) < len(asked.content) == len(plain.content)
    assert asked.content == plain.content
    assert "content-encoding" not in plain.headers


async def test_small_and_streamed_answers_go_as_they_are():
    async with _client() as client:
        small = await client.get("/small", headers={"accept-encoding": "gzip"})
        streamed = await client.get("/stream", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers and small.content == b"ok"
    assert "content-encoding" not in streamed.headers and streamed.content == b"a" * 1000 + b"b" * 1000


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("deflate;q=1.0, gzip;q=0.5", "deflate"),
        ("gzip;q=0, deflate;q=0.1", "deflate"),
        ("gzip;q=0", None),
        ("identity", None),
        ("br", None),
        ("*", "gzip"),
        ("*;q=0.5, identity", None),
        ("gzip;q=nonsense", None),
        ("", None),
    ],
)
def test_accept_encoding_picks_the_highest_q(header, coding):
    assert response_coding(header) == coding
