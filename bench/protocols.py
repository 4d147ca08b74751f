"""One 224x224x3 FP32 image per request through the gateway: JSON vs binary tensors vs gRPC.

    .venv/bin/python bench/protocols.py [--requests 64] [--rounds 2] [--pairs 512] [--json-out .bench/protocols.json]

Starts, on loopback: a test peer (``python -m tests.runtime.gateway.peers --numpy-binary``: it
reads JSON with orjson and binary tensors with numpy, and answers one value per row, the sum of
the row, computed with numpy) and the gateway (``python -m runtime.gateway`` with ``--grpc-port``) in front of it. The
clients are NVIDIA's, unchanged: ``tritonclient.http`` with ``binary_data=False`` and JSON outputs
(JSON), ``tritonclient.http`` with its defaults (binary tensors in, binary outputs back) and
``tritonclient.grpc``; every call builds its request from the array, as a client does per image.
``json+gzip`` and ``binary+gzip`` are the same two REST calls with the client's own compression
both ways (``request_compression_algorithm`` and ``response_compression_algorithm`` "gzip"): they
are shown beside the plain rows, and the plain JSON-to-binary ratio compares plain bodies only.

The image is a photograph (matplotlib's ``grace_hopper.jpg``) in torchvision's ImageNet
preprocessing: short side resized to 256, centre crop 224, scaled to [0, 1], normalised by the
ImageNet channel means and deviations, laid out 224x224x3. Bytes on the wire are counted by a
loopback proxy (bench/wire.py) per request, both ways, HTTP/1.1 or HTTP/2 framing and headers
included; two more photographs (scikit-learn's ``china.jpg`` and ``flower.jpg``) and uniform
noise show how the JSON-to-binary ratio moves with the pixels. Timings are taken without the
proxy, under a 60 s latency budget (JSON at concurrency 32 takes seconds here, and a budget's
fallback is not what is measured). At concurrency 1 the protocols take turns call by call, every
other turn in reverse order (so that no protocol always follows the same one), so that each meets
the same moments of the machine and gRPC's calls can be paired with binary REST's next to them;
then binary REST and gRPC alone take ``--pairs`` more turns, which are cheap; then the same two
calls with and without the gateway take ``--pairs`` four-way turns (the peer also serves gRPC, on
grpcio's asyncio server as the gateway does), which show the transports alone side by side and
what the gateway adds to each. The median paired
difference is printed with a bootstrap 95% interval, resampled in runs of consecutive pairs
(``bench/paired.py``). At concurrency 32 each protocol has its
cell in turn, round by round. On a shared machine the figures move by tens of percent between
runs. The peer holds every input as a numpy array (JSON lists converted once, binary tensors
read in place) and sums with numpy, so that its own cost, the same for every protocol, is small
beside the gateway's and the transports'.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.gateway import pinned, start  # noqa: E402
from runtime.spec import ModelSpec  # noqa: E402
from runtime.wiring import GatewayConfig, VariantEndpoint  # noqa: E402
from tests.ports import free_port  # noqa: E402

PROTOCOLS = ("json", "binary", "grpc", "json+gzip", "binary+gzip")


def _print(rows: list[dict], wire: dict, paired: dict) -> None:
    print("\nbytes on the wire per request (client <-> gateway, TCP payload, framing and headers included)")
    print(f"{'image':<13} {'protocol':<11} {'sent':>10} {'received':>9} {'total':>10} {'JSON/this':>9}")
    for name in wire["json"]:
        json_total = sum(wire["json"][name])
        for p in PROTOCOLS:
            sent, received = wire[p][name]
            print(
                f"{name:<13} {p:<11} {sent:>10,} {received:>9,} {sent + received:>10,} {json_total / (sent + received):>8.2f}x"
            )
    print(f"\n{'protocol':<11} {'conc':>4} {'wire bytes':>10} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'failed':>6}")
    for r in rows:
        print(
            f"{r['protocol']:<11} {r['concurrency']:>4} {r['request_bytes'] + r['response_bytes']:>10,} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['rps']:>8.1f} {r['failed']:>6}"
        )
    by = {(r["protocol"], r["concurrency"]): r for r in rows}

    def size(row: dict) -> int:
        return row["request_bytes"] + row["response_bytes"]

    for c in (1, 32):
        j, b, g = by[("json", c)], by[("binary", c)], by[("grpc", c)]
        jz, bz = by[("json+gzip", c)], by[("binary+gzip", c)]
        print(
            f"c{c}: binary is {size(j) / size(b):.2f}x smaller than JSON on the wire, {j['p50_ms'] / b['p50_ms']:.1f}x "
            f"faster at p50; gRPC p50 {g['p50_ms']:.2f} ms vs binary REST {b['p50_ms']:.2f} ms, JSON {j['p50_ms']:.2f} ms"
        )
        print(
            f"c{c}, gzip both ways (shown apart, not in the plain ratio): binary+gzip is {size(j) / size(bz):.2f}x "
            f"smaller than plain JSON and {size(jz) / size(bz):.2f}x smaller than JSON+gzip; p50 binary+gzip "
            f"{bz['p50_ms']:.2f} ms, JSON+gzip {jz['p50_ms']:.2f} ms"
        )
    for key, what in (("grpc", "in the turns of every protocol"), ("grpc_all", "with the binary/gRPC-only turns too")):
        if key in paired:
            d = paired[key]
            low, high = d["ci95_ms"]
            print(
                f"c1 {what}: gRPC minus the binary REST call beside it, median {d['median_ms']:+.2f} ms "
                f"(95% block-bootstrap interval {low:+.2f} to {high:+.2f}, runs of {d['block']}) over {d['pairs']} pairs; "
                f"gRPC faster in {d['faster_share']:.0%}"
            )
    if "direct" in paired:
        _print_direct(paired["direct"])
    if "after_own_kind_p50_ms" in paired:
        own = paired["after_own_kind_p50_ms"]
        print(
            f"c1, calls that follow one of their own kind (a one-protocol client): p50 binary REST "
            f"{own['binary']:.2f} ms, gRPC {own['grpc']:.2f} ms"
        )


def _print_direct(direct: dict) -> None:
    def summary(d: dict) -> str:
        low, high = d["ci95_ms"]
        return f"{d['median_ms']:+.2f} ms ({low:+.2f} to {high:+.2f})"

    p50 = direct["p50_ms"]
    print(
        "c1, binary REST and gRPC through the gateway and straight to the peer, in turns (p50 "
        f"{p50['binary']:.2f} / {p50['grpc']:.2f} ms through it, {p50['binary-direct']:.2f} / "
        f"{p50['grpc-direct']:.2f} ms straight), paired medians over "
        f"{direct['grpc_minus_binary_direct']['pairs']} turns:"
    )
    print(f"  the transports alone, gRPC minus binary REST: {summary(direct['grpc_minus_binary_direct'])}")
    print(f"  the gateway adds to binary REST {summary(direct['gateway_adds_binary'])}")
    print(f"  the gateway adds to gRPC {summary(direct['gateway_adds_grpc'])}")
    print(f"  it adds more to gRPC than to binary REST by {summary(direct['gateway_adds_grpc_minus_binary'])}")


def _gateway_config(work: Path, peer_url: str) -> Path:
    spec = ModelSpec.model_validate(
        {"variants": [{"model": "models:/image/1", "role": "primary", "weight": 100}], "latencyBudgetMs": 60_000}
    )
    config = GatewayConfig(
        stack="bench",
        models={"image": spec},
        auth_required=False,
        max_body_bytes=16 << 20,
        endpoints={"image": {spec.primary.variant_name: VariantEndpoint(url=peer_url, model_name="image")}},
    )
    path = work / "gateway.json"
    path.write_text(config.model_dump_json(by_alias=True))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=64, help="requests per protocol, concurrency and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--pairs", type=int, default=512, help="extra c1 binary/gRPC pairs per round (0: none), in alternating order"
    )
    parser.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
    parser.add_argument("--json-out", type=Path, default=REPO / ".bench" / "protocols.json")
    args = parser.parse_args()
    work = REPO / ".bench" / "protocols"
    work.mkdir(parents=True, exist_ok=True)
    pin = (lambda cpu, command: command) if args.no_pin else pinned
    procs = []
    load_before = os.getloadavg()
    try:
        port = free_port()
        peer_grpc = free_port()
        peer_command = [sys.executable, "-m", "tests.runtime.gateway.peers", "--port", str(port), "--numpy-binary"]
        peer_command += ["--grpc-port", str(peer_grpc)]
        peer = start(
            "peer", pin("1", peer_command), f"http://127.0.0.1:{port}", "/v2/models/image/ready", work / "peer.log"
        )
        procs.append(peer)
        http, grpc_port = free_port(), free_port()
        command = [sys.executable, "-m", "runtime.gateway", "--config", str(_gateway_config(work, peer.url))]
        command += ["--host", "127.0.0.1", "--port", str(http), "--grpc-port", str(grpc_port)]
        procs.append(
            start("gateway", pin("0", command), f"http://127.0.0.1:{http}", "/v2/health/ready", work / "gateway.log")
        )
        drive = [sys.executable, "-m", "bench.protocol_clients", str(http), str(grpc_port)]
        drive += ["--requests", str(args.requests), "--rounds", str(args.rounds), "--pairs", str(args.pairs)]
        drive += ["--direct", str(port), str(peer_grpc)]
        done = subprocess.run(drive, cwd=REPO, stdout=subprocess.PIPE, text=True, check=False)
    finally:
        for proc in reversed(procs):
            proc.stop()
    if done.returncode != 0:
        print(f"the clients exited with {done.returncode}", file=sys.stderr)
        return 1
    result = json.loads(done.stdout.splitlines()[-1])
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    _print(result["rows"], result["wire"], result["c1_paired_vs_binary"])
    print("load average (1, 5, 15 min): before {before}, after {after}".format(**result["load_average"]))
    for failure in result["failures"][:10]:
        print(f"failed: {failure}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2))
    print(f"rows written to {args.json_out}")
    clean = not result["failures"] and all(r["failed"] == 0 for r in result["rows"])
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
