"""One V2 gRPC infer of the slow model's ``x`` by a client no one here wrote, in a process of its
own (tritonclient.grpc and KServe register the same proto package and cannot share one).

``python -m tests.runtime.modelserver.grpc_call CLIENT ADDRESS TIMEOUT_S [--behind REST_URL]
[KEY=VALUE ...]`` prints one JSON line: ``{"code": ..., "details": ...}``, code "OK" when it was
answered. KEY=VALUE pairs are sent as metadata. With ``--behind``, the call is made once a REST
request to the server at REST_URL is in its predict (the slow model takes its time), with the client's
channel up, so that the call queues behind it; that request's status is ``"behind"``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import time

import httpx
import numpy as np

BODY = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1], "data": [3.0]}]}


def in_flight(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith('ml_serving_infer_in_flight{model="slow"}'):
            return float(line.split()[-1])
    return 0.0


class Behind:
    """Holds the model busy with one REST request at ``url``, for the call to queue behind."""

    def __init__(self, url: str | None) -> None:
        self.url, self.status = url, None
        self._pool = concurrent.futures.ThreadPoolExecutor(1)
        self._busy: concurrent.futures.Future | None = None

    def hold(self) -> None:
        if self.url is None:
            return
        self._busy = self._pool.submit(httpx.post, f"{self.url}/v2/models/slow/infer", json=BODY, timeout=30)
        deadline = time.monotonic() + 20
        while in_flight(self.url) < 1:
            if time.monotonic() > deadline:
                raise SystemExit("the REST request never reached the server")
            time.sleep(0.01)

    def done(self) -> dict:
        if self._busy is None:
            return {}
        return {"behind": self._busy.result().status_code}


def triton(address: str, timeout_s: float, metadata: dict[str, str], behind: Behind) -> tuple[str, str]:
    import tritonclient.grpc as client
    from tritonclient.utils import InferenceServerException

    x = client.InferInput("x", [1], "FP64")
    x.set_data_from_numpy(np.array([1.0]))
    c = client.InferenceServerClient(address)
    assert c.is_server_ready()  # the channel is up before the call is timed
    behind.hold()
    try:
        c.infer("slow", [x], client_timeout=timeout_s, headers=metadata)
    except InferenceServerException as exc:
        return str(exc.status()).removeprefix("StatusCode."), str(exc.message())
    return "OK", ""


def kserve(address: str, timeout_s: float, metadata: dict[str, str], behind: Behind) -> tuple[str, str]:
    import grpc
    from kserve import InferenceGRPCClient, InferInput, InferRequest

    x = InferInput("x", [1], "FP64")
    x.set_data_from_numpy(np.array([1.0]))

    async def call() -> tuple[str, str]:
        c = InferenceGRPCClient(address, channel_args=[("grpc.enable_retries", 0)])
        assert await c.is_server_ready()  # the channel is up before the call is timed
        behind.hold()
        try:
            await c.infer(InferRequest("slow", [x]), timeout=timeout_s, headers=tuple(metadata.items()))
        except grpc.aio.AioRpcError as exc:
            return exc.code().name, exc.details() or ""
        return "OK", ""

    return asyncio.run(call())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("client", choices=["tritonclient.grpc", "kserve.grpc"])
    parser.add_argument("address")
    parser.add_argument("timeout_s", type=float)
    parser.add_argument("--behind")
    parser.add_argument("metadata", nargs="*")
    args = parser.parse_args()
    behind = Behind(args.behind)
    client = {"tritonclient.grpc": triton, "kserve.grpc": kserve}[args.client]
    code, details = client(args.address, args.timeout_s, dict(p.split("=", 1) for p in args.metadata), behind)
    print(json.dumps({"code": code, "details": details, **behind.done()}))
