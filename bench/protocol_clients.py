"""The client side of bench/protocols.py: NVIDIA's clients, the image, bytes on the wire, load.

    .venv/bin/python -m bench.protocol_clients HTTP_PORT GRPC_PORT [--requests 64] [--rounds 2]
        [--pairs 512] [--direct PEER_HTTP_PORT PEER_GRPC_PORT]

Prints one JSON object (rows, wire bytes per image, failures) on stdout. It runs in its own
process because tritonclient.grpc and kserve register the same protobuf package (``inference``)
in the default descriptor pool, and one process cannot import both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import tritonclient.grpc.aio as grpcclient
import tritonclient.http.aio as httpclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from bench.paired import paired_summary
from bench.wire import WireCounter

SHAPE = [1, 224, 224, 3]
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PROTOCOLS = ("json", "binary", "grpc", "json+gzip", "binary+gzip")
GZIP = {"request_compression_algorithm": "gzip", "response_compression_algorithm": "gzip"}
"""What tritonclient.http sends for ``+gzip``: its own ``gzip.compress`` of the body (level 9),
``Content-Encoding: gzip``, and ``Accept-Encoding: gzip`` for the answer."""
WIRE_CALLS = 3
FAILURES: list[str] = []
"""What each failed call answered (every call checked, the extra binary/gRPC pairs too), printed after the table."""


@dataclass
class Row:
    protocol: str
    concurrency: int
    requests: int
    failed: int
    """Failed calls in every round of this cell (timings are the least disturbed round's)."""
    request_bytes: int
    """Per request, client to gateway, as TCP carried it (framing and headers included)."""
    response_bytes: int
    """Per request, gateway to client, likewise."""
    p50_ms: float
    p99_ms: float
    rps: float


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """torchvision's ImageNet transform (Resize(256), CenterCrop(224), ToTensor, Normalize), HWC."""
    image = Image.fromarray(rgb).convert("RGB")
    scale = 256 / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    left, top = (image.width - 224) // 2, (image.height - 224) // 2
    crop = np.asarray(image.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255.0
    return ((crop - MEAN) / STD).astype(np.float32)[np.newaxis]


def images() -> dict[str, np.ndarray]:
    """The bench's image first, then the others the wire ratio is also shown for."""
    from matplotlib.cbook import get_sample_data
    from sklearn.datasets import load_sample_image

    hopper = np.asarray(Image.open(get_sample_data("grace_hopper.jpg", asfileobj=False)))
    noise = np.random.default_rng(7).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    return {
        "grace_hopper": preprocess(hopper),
        "china": preprocess(load_sample_image("china.jpg")),
        "flower": preprocess(load_sample_image("flower.jpg")),
        "noise": preprocess(noise),
    }


Call = Callable[[Any, np.ndarray], Awaitable[float]]


async def _json(client: httpclient.InferenceServerClient, array: np.ndarray, **coding: str) -> float:
    tensor = httpclient.InferInput("x", SHAPE, "FP32").set_data_from_numpy(array, binary_data=False)
    outputs = [httpclient.InferRequestedOutput("predict", binary_data=False)]
    return float((await client.infer("image", [tensor], outputs=outputs, **coding)).as_numpy("predict")[0])


async def _binary(client: httpclient.InferenceServerClient, array: np.ndarray, **coding: str) -> float:
    tensor = httpclient.InferInput("x", SHAPE, "FP32").set_data_from_numpy(array)
    return float((await client.infer("image", [tensor], **coding)).as_numpy("predict")[0])


async def _json_gzip(client: httpclient.InferenceServerClient, array: np.ndarray) -> float:
    return await _json(client, array, **GZIP)


async def _binary_gzip(client: httpclient.InferenceServerClient, array: np.ndarray) -> float:
    return await _binary(client, array, **GZIP)


async def _grpc(client: grpcclient.InferenceServerClient, array: np.ndarray) -> float:
    tensor = grpcclient.InferInput("x", SHAPE, "FP32").set_data_from_numpy(array)
    return float((await client.infer("image", [tensor])).as_numpy("predict")[0])


CALLS: dict[str, Call] = {
    "json": _json,
    "binary": _binary,
    "grpc": _grpc,
    "json+gzip": _json_gzip,
    "binary+gzip": _binary_gzip,
    "binary-direct": _binary,
    "grpc-direct": _grpc,
}
"""``-direct``: the same call to the peer itself, without the gateway (``--direct``)."""


def _client(protocol: str, address: str) -> Any:
    if protocol.startswith("grpc"):
        return grpcclient.InferenceServerClient(address)
    return httpclient.InferenceServerClient(address, conn_limit=64)


_SUMS: dict[int, tuple[np.ndarray, float]] = {}


def _expected(array: np.ndarray) -> float:
    """The peer's answer for ``array``, summed once per image: the check is timed with the call,
    and a float64 sum of 150,528 values is a cost the same for every protocol."""
    known = _SUMS.get(id(array))
    if known is None or known[0] is not array:
        known = _SUMS[id(array)] = (array, float(array.astype(np.float64).sum()))
    return known[1]


async def _checked(protocol: str, client: Any, array: np.ndarray) -> bool:
    """One call; the answer must be the peer's (the row's sum), not an error or another value."""
    try:
        value = await CALLS[protocol](client, array)
    except InferenceServerException as exc:
        FAILURES.append(f"{protocol}: {exc}")
        return False
    expected = _expected(array)
    if not np.isclose(value, expected, rtol=1e-6, atol=1e-6):
        FAILURES.append(f"{protocol}: answered {value}, expected {expected}")
        return False
    return True


async def wire_bytes(
    protocol: str, target: tuple[str, int], arrays: dict[str, np.ndarray]
) -> dict[str, tuple[int, int]]:
    """Per image, the bytes one request sends and receives on a warm connection."""
    sizes: dict[str, tuple[int, int]] = {}
    async with WireCounter(*target) as counter:
        client = _client(protocol, counter.address)
        try:
            await _checked(protocol, client, next(iter(arrays.values())))  # connection set up
            for name, array in arrays.items():
                sent, received = counter.snapshot()
                for _ in range(WIRE_CALLS):
                    await _checked(protocol, client, array)
                sizes[name] = (
                    round((counter.sent - sent) / WIRE_CALLS),
                    round((counter.received - received) / WIRE_CALLS),
                )
        finally:
            await client.close()
    return sizes


async def _load(protocol: str, client: Any, array: np.ndarray, concurrency: int, total: int):
    latencies: list[float] = []
    failed = 0
    queue = list(range(total))

    async def worker() -> None:
        nonlocal failed
        while queue:
            queue.pop()
            t0 = time.monotonic()
            ok = await _checked(protocol, client, array)
            latencies.append((time.monotonic() - t0) * 1000.0)
            failed += not ok

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failed, time.monotonic() - began


async def _in_turns(
    clients: dict[str, Any], array: np.ndarray, total: int
) -> dict[str, tuple[list[float], int, float]]:
    """Concurrency 1 for every protocol at once: one call of each in turn, ``total`` times (every
    other turn backwards), so that the protocols' calls meet the same moments of a shared machine
    and call ``i`` of one can be paired with call ``i`` of another. (One protocol's cell after
    another's spans half a second each, and on this machine such a window moves by more than the
    gaps measured.) Per protocol: latencies in call order, failures, and the seconds its own
    calls took."""
    latencies: dict[str, list[float]] = {p: [] for p in clients}
    failed = dict.fromkeys(clients, 0)
    order = list(clients)
    for turn in range(total):
        # Every other turn runs backwards, so that no protocol always follows the same one: a call
        # meets whatever the call before it left running (measured: about 0.3 ms after gRPC).
        for p in order if turn % 2 == 0 else reversed(order):
            t0 = time.monotonic()
            failed[p] += not await _checked(p, clients[p], array)
            latencies[p].append((time.monotonic() - t0) * 1000.0)
    return {p: (latencies[p], failed[p], sum(latencies[p]) / 1000.0) for p in clients}


def _row(protocol: str, concurrency: int, wire: tuple[int, int], result) -> Row:
    latencies, failed, elapsed = result
    latencies = sorted(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Row(
        protocol,
        concurrency,
        len(latencies),
        failed,
        wire[0],
        wire[1],
        statistics.median(latencies),
        p99,
        len(latencies) / elapsed,
    )


def _direct_summary(four: dict[str, list[list[float]]]) -> dict:
    """The four-way turns (binary REST and gRPC, through the gateway and straight to the peer),
    paired call by call: the transports alone, what the gateway adds to each, and how much more
    it adds to gRPC than to binary REST."""
    binary, grpc, binary_direct, grpc_direct = (
        np.concatenate(four[p]) for p in ("binary", "grpc", "binary-direct", "grpc-direct")
    )
    return {
        "p50_ms": {p: float(np.median(np.concatenate(v))) for p, v in four.items()},
        "grpc_minus_binary_direct": paired_summary((grpc_direct - binary_direct).tolist()),
        "gateway_adds_binary": paired_summary((binary - binary_direct).tolist()),
        "gateway_adds_grpc": paired_summary((grpc - grpc_direct).tolist()),
        "gateway_adds_grpc_minus_binary": paired_summary(((grpc - grpc_direct) - (binary - binary_direct)).tolist()),
    }


async def measure(
    http: int, grpc_port: int, total: int, rounds: int, pairs: int, direct: tuple[int, int] | None = None
) -> tuple[list[Row], dict, dict]:
    arrays = images()
    targets = {p: ("127.0.0.1", grpc_port if p == "grpc" else http) for p in PROTOCOLS}
    wire = {p: await wire_bytes(p, targets[p], arrays) for p in PROTOCOLS}
    image = arrays["grace_hopper"]
    clients = {p: _client(p, f"{targets[p][0]}:{targets[p][1]}") for p in PROTOCOLS}
    if direct:
        clients["binary-direct"] = _client("binary-direct", f"127.0.0.1:{direct[0]}")
        clients["grpc-direct"] = _client("grpc-direct", f"127.0.0.1:{direct[1]}")
    four: dict[str, list[list[float]]] = {p: [] for p in ("binary", "grpc", "binary-direct", "grpc-direct")}
    rows: dict[tuple[str, int], list[Row]] = {}
    differences: dict[str, list[float]] = {p: [] for p in PROTOCOLS if p != "binary"}
    extra: list[float] = []
    steady: dict[str, list[float]] = {"binary": [], "grpc": []}
    try:
        for p in clients:  # warm every path and connection pool
            await _load(p, clients[p], image, 8, 16)
        for _ in range(rounds):
            turns = await _in_turns({p: clients[p] for p in PROTOCOLS}, image, total)
            for p, result in turns.items():
                rows.setdefault((p, 1), []).append(_row(p, 1, wire[p]["grace_hopper"], result))
                if p in differences:
                    differences[p] += [a - b for a, b in zip(result[0], turns["binary"][0])]
            if pairs:  # binary REST and gRPC alone, in turns: cheap pairs for a tight interval
                alone = await _in_turns({p: clients[p] for p in ("binary", "grpc")}, image, pairs)
                extra += [a - b for a, b in zip(alone["grpc"][0], alone["binary"][0])]
                # Turns run binary, gRPC, then gRPC, binary: calls that follow one of their own kind,
                # as every call of a client that speaks one protocol does.
                steady["binary"] += alone["binary"][0][2::2]
                steady["grpc"] += alone["grpc"][0][1::2]
            if pairs and direct:  # the same two calls with and without the gateway, in turns
                turns = await _in_turns({p: clients[p] for p in four}, image, pairs)
                for p in four:
                    four[p].append(turns[p][0])
            for p in PROTOCOLS:
                result = await _load(p, clients[p], image, 32, total)
                rows.setdefault((p, 32), []).append(_row(p, 32, wire[p]["grace_hopper"], result))
    finally:
        for client in clients.values():
            await client.close()
    # The least disturbed round of a shared machine, chosen alike for every protocol; its
    # ``failed`` counts the failures of every round, so that none is hidden by the choice.
    merged = [
        replace(min(parts, key=lambda r: r.p50_ms), failed=sum(r.failed for r in parts)) for parts in rows.values()
    ]
    paired = {p: paired_summary(d) for p, d in differences.items()}
    if extra:
        paired["grpc_all"] = paired_summary(differences["grpc"] + extra)
        paired["after_own_kind_p50_ms"] = {p: statistics.median(v) for p, v in steady.items()}
    if four["binary"]:
        paired["direct"] = _direct_summary(four)
    return sorted(merged, key=lambda r: (r.concurrency, PROTOCOLS.index(r.protocol))), wire, paired


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("http_port", type=int)
    parser.add_argument("grpc_port", type=int)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=512)
    parser.add_argument("--direct", type=int, nargs=2, metavar=("PEER_HTTP_PORT", "PEER_GRPC_PORT"))
    args = parser.parse_args()
    direct = tuple(args.direct) if args.direct else None
    rows, wire, paired = asyncio.run(
        measure(args.http_port, args.grpc_port, args.requests, args.rounds, args.pairs, direct)
    )
    document = {"rows": [asdict(r) for r in rows], "wire": wire, "c1_paired_vs_binary": paired}
    print(json.dumps({**document, "failures": sorted(set(FAILURES))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
