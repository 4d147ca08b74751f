"""Small real V2 model servers for the gateway's tests and benchmark (uvicorn on loopback).

A peer answers ``POST /v2/models/{name}/infer`` with one output, ``predict``: per row, the sum
of the first input's values (plus ``offset``). Its ``mode`` can change while it runs:
``answer``, ``slow`` (answer after ``delay_s``), ``hang`` (answer after ``hang_s``), ``fail``
(HTTP 500), and the faults a model server shows in production: ``blackhole`` (read the request,
never answer), ``reset`` (send the headers and part of the body, then drop the connection),
``garbage`` (200 with a body that is not JSON), ``wrong_rows`` (one row short), ``poison``
(after ``delay_s``, HTTP 500 for a whole request that holds a negative value, as a model that
crashes on one bad row does) and ``reject_negative`` (400 for the same). Run as a process (``python -m
tests.runtime.gateway.peers --port P``) when a test must kill it; ``POST /control`` with
``{"mode": ..., "delay_s": ...}`` changes its state from another process. With ``--grpc-port``
the same process also answers the V2 ``ModelInfer`` over gRPC (grpcio's asyncio server, mode
``answer`` only): bench/protocols.py calls it directly to measure the two transports without
the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import threading
import time
from dataclasses import dataclass, field

import grpc
import numpy as np
import orjson
import uvicorn
import uvloop
from grpc import aio
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.infer_type import InferRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from runtime.protocol import DATATYPES


@dataclass
class PeerState:
    name: str = "m"
    mode: str = "answer"
    delay_s: float = 0.05
    hang_s: float = 5.0
    offset: float = 0.0
    pad_bytes: int = 2_000_000
    """Modes huge and huge_chunked: bytes of padding in the answer's parameters."""
    calls: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    numpy_binary: bool = False
    """Hold every input as a numpy array and sum with numpy, as a fast model server would
    (bench/protocols.py): binary tensors are read in place, JSON lists converted once. Otherwise
    binary tensors are read by KServe's decoder, which builds Python lists element by element."""


def _rows(tensor: dict) -> list[float]:
    n = tensor["shape"][0]
    if isinstance(tensor["data"], np.ndarray):
        return tensor["data"].reshape(n, -1).sum(axis=1, dtype=np.float64).tolist()
    data = flat_values(tensor["data"])
    width = math.prod(tensor["shape"][1:]) if len(tensor["shape"]) > 1 else 1
    return [float(sum(data[i * width : (i + 1) * width])) for i in range(n)]


def flat_values(data: list | np.ndarray) -> list[float]:
    if isinstance(data, np.ndarray):
        return data.ravel().tolist()
    while data and isinstance(data[0], list):
        data = [v for row in data for v in row]
    return data


async def _broken(answer: bytes):
    yield answer[: len(answer) // 2]
    await asyncio.sleep(0)
    raise ConnectionResetError("the peer drops the connection mid-response")


async def _pieces(answer: bytes):
    for i in range(0, len(answer), 65536):
        yield answer[i : i + 65536]


def _body(raw: bytes, header_length: str | None, numpy_binary: bool = False) -> dict:
    """A V2 request as JSON; binary tensors are read by KServe's own decoder (or numpy)."""
    if header_length is None:
        document = orjson.loads(raw)
        if numpy_binary:
            for tensor in document["inputs"]:
                tensor["data"] = np.asarray(tensor["data"], dtype=DATATYPES[tensor["datatype"]])
        return document
    if numpy_binary:
        at = int(header_length)
        view = memoryview(raw)
        header = orjson.loads(view[:at])
        for tensor in header["inputs"]:
            size = (tensor.get("parameters") or {}).get("binary_data_size")
            if size is not None:
                tensor["data"] = np.frombuffer(view[at : at + size], dtype=DATATYPES[tensor["datatype"]])
                at += size
        return header
    request = InferRequest.from_bytes(raw, int(header_length), "peer")
    inputs = [{"name": i.name, "shape": i.shape, "datatype": i.datatype, "data": i.data} for i in request.inputs]
    return {"id": request.id, "inputs": inputs}


def make_app(state: PeerState) -> Starlette:
    async def infer(request: Request) -> Response:
        state.calls += 1
        state.headers.append(dict(request.headers))
        del state.headers[:-50]
        body = _body(await request.body(), request.headers.get("inference-header-content-length"), state.numpy_binary)
        mode = state.mode
        poisoned = mode in ("poison", "reject_negative") and any(v < 0 for v in flat_values(body["inputs"][0]["data"]))
        if mode == "poison":
            await asyncio.sleep(state.delay_s)
        if mode == "fail" or (mode == "poison" and poisoned):
            return Response(b'{"error": "model failed"}', status_code=500, media_type="application/json")
        if mode == "reject_negative" and poisoned:
            return Response(
                b'{"error": "Input \'x\': negative values"}', status_code=400, media_type="application/json"
            )
        if mode == "garbage":
            return Response(b'{"outputs": [{"name": "predict", "sha', media_type="application/json")
        if mode == "blackhole":
            await asyncio.Event().wait()
        if mode == "slow":
            await asyncio.sleep(state.delay_s)
        elif mode == "hang":
            await asyncio.sleep(state.hang_s)
        rows = [v + state.offset for v in _rows(body["inputs"][0])]
        if mode == "wrong_rows":
            rows = rows[:-1]
        answer = orjson.dumps(
            {
                "model_name": request.path_params["name"],
                "model_version": "1",
                "id": body.get("id"),
                "outputs": [{"name": "predict", "shape": [len(rows)], "datatype": "FP64", "data": rows}],
            }
        )
        if mode in ("huge", "huge_chunked"):
            # A well-formed answer, and far larger than its rows: a model gone wrong.
            document = orjson.loads(answer)
            document["parameters"] = {"pad": "a" * state.pad_bytes}
            answer = orjson.dumps(document)
            if mode == "huge_chunked":  # no content-length: the size shows only as it is read
                return StreamingResponse(_pieces(answer), media_type="application/json")
            return Response(answer, media_type="application/json")
        if mode == "reset":
            return StreamingResponse(
                _broken(answer), media_type="application/json", headers={"content-length": str(len(answer))}
            )
        return Response(answer, media_type="application/json")

    async def control(request: Request) -> Response:
        for key, value in orjson.loads(await request.body()).items():
            if key not in ("mode", "delay_s", "hang_s", "offset", "pad_bytes"):
                return Response(
                    orjson.dumps({"error": f"unknown key '{key}'"}), status_code=400, media_type="application/json"
                )
            setattr(state, key, value)
        return Response(orjson.dumps({"mode": state.mode, "calls": state.calls}), media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(
            orjson.dumps({"name": request.path_params["name"], "ready": True}), media_type="application/json"
        )

    async def metadata(request: Request) -> Response:
        doc = {
            "name": request.path_params["name"],
            "platform": "test-peer",
            "inputs": [{"name": "x", "datatype": "FP64", "shape": [-1]}],
            "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
        }
        return Response(orjson.dumps(doc), media_type="application/json")

    return Starlette(
        routes=[
            Route("/v2/models/{name}/infer", infer, methods=["POST"]),
            Route("/control", control, methods=["POST"]),
            Route("/v2/models/{name}/ready", ready),
            Route("/v2/models/{name}", metadata),
        ]
    )


async def serve_grpc(state: PeerState, port: int) -> aio.Server:
    """``ModelInfer`` on ``127.0.0.1:port``: per row, the sum of the first input (FP32 or FP64
    raw contents), as the REST route answers it, in raw output contents."""

    async def model_infer(request: pb.ModelInferRequest, context: aio.ServicerContext) -> pb.ModelInferResponse:
        state.calls += 1
        if state.mode != "answer" or not request.raw_input_contents:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the peer's gRPC answers raw tensors in mode answer")
        tensor = request.inputs[0]
        values = np.frombuffer(request.raw_input_contents[0], dtype=DATATYPES[tensor.datatype])
        rows = values.reshape(tensor.shape[0], -1).sum(axis=1, dtype=np.float64) + state.offset
        answer = pb.ModelInferResponse(model_name=request.model_name, model_version="1", id=request.id)
        answer.outputs.add(name="predict", datatype="FP64", shape=[len(rows)])
        answer.raw_output_contents.append(rows.tobytes())
        return answer

    handler = grpc.unary_unary_rpc_method_handler(
        model_infer,
        request_deserializer=pb.ModelInferRequest.FromString,
        response_serializer=pb.ModelInferResponse.SerializeToString,
    )
    server = aio.server(options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("inference.GRPCInferenceService", {"ModelInfer": handler}),)
    )
    if not server.add_insecure_port(f"127.0.0.1:{port}"):
        raise RuntimeError(f"cannot listen for gRPC on 127.0.0.1:{port}")
    await server.start()
    return server


class ThreadServer:
    """An ASGI app served by uvicorn on a loopback port in a thread of this process."""

    def __init__(self, app) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = ""

    def start(self, timeout_s: float = 10.0):
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class ThreadPeer(ThreadServer):
    """A V2 peer whose ``state`` (mode, delay, calls, headers seen) the test reads and changes."""

    def __init__(self, state: PeerState | None = None) -> None:
        self.state = state or PeerState()
        super().__init__(make_app(self.state))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default="answer")
    parser.add_argument("--delay_s", type=float, default=0.05)
    parser.add_argument("--numpy-binary", action="store_true", help="read binary tensors with numpy")
    parser.add_argument("--grpc-port", type=int, help="also answer ModelInfer over gRPC on this port")
    args = parser.parse_args()
    state = PeerState(mode=args.mode, delay_s=args.delay_s, numpy_binary=args.numpy_binary)
    config = uvicorn.Config(
        make_app(state),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        # A black-holed request never ends: without a bound, SIGTERM waits for it and the
        # caller's stop falls back to SIGKILL after its own wait (15 s a module).
        timeout_graceful_shutdown=1,
    )

    async def serve() -> None:
        grpc_server = await serve_grpc(state, args.grpc_port) if args.grpc_port else None
        try:
            await uvicorn.Server(config).serve()  # returns on SIGINT or SIGTERM
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=1)

    uvloop.run(serve())


if __name__ == "__main__":
    main()
