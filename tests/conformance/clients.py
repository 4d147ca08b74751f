"""The V2 clients of the conformance suite, each behind one small adapter, and the cases they run.

Run as ``python -m tests.conformance.clients CLIENT TARGET=REST_URL,GRPC_ADDRESS ...``: it prints
one JSON line per (target, case) with ``ok`` and what was seen. Each client runs in a process of
its own because tritonclient.grpc and KServe register the same ``inference`` proto package and
cannot be imported together.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

MODEL = "echo"
DATATYPES = [
    "BOOL",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]
CLIENTS = [
    "tritonclient.http/binary",
    "tritonclient.http/json",
    "tritonclient.http/binary+gzip",
    "tritonclient.http/json+deflate",
    "tritonclient.http/binary+deflate",
    "tritonclient.http/json+gzip",
    "tritonclient.grpc",
    "tritonclient.grpc+gzip",
    "tritonclient.http.aio/binary",
    "tritonclient.grpc.aio",
    "kserve.rest/binary",
    "kserve.rest/json",
    "kserve.grpc",
]


async def _done(value: Any) -> Any:
    """``value``, awaited when a client's call returned an awaitable (its asyncio variant)."""
    return await value if inspect.isawaitable(value) else value


class NotOffered(Exception):
    """The client has no call for this case, or refuses it before sending."""


def sample(datatype: str) -> np.ndarray:
    values = {
        "BOOL": np.array([True, False]),
        "BYTES": np.array([b"fraud", "é".encode()], dtype=object),
        "FP16": np.array([0.5, -2.25], dtype=np.float16),
    }
    if datatype in values:
        return values[datatype]
    dtype = np.dtype(datatype.replace("FP", "float").replace("UINT", "uint").replace("INT", "int").lower())
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    return np.array([info.min, info.max], dtype=dtype)


class Answer:
    def __init__(self, request_id: str, outputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> None:
        self.request_id, self.outputs, self.parameters = request_id, outputs, parameters


def _triton_inputs(module: Any, inputs, **options) -> list:
    tensors = []
    for name, array, datatype in inputs:
        t = module.InferInput(name, list(array.shape), datatype)
        t.set_data_from_numpy(array, **options)
        tensors.append(t)
    return tensors


class _Triton:
    """tritonclient's blocking clients share these calls over HTTP and gRPC."""

    c: Any

    async def live(self) -> bool:
        return await _done(self.c.is_server_live())

    async def ready(self) -> bool:
        return await _done(self.c.is_server_ready())

    async def model_ready(self, name: str) -> bool:
        return await _done(self.c.is_model_ready(name))

    async def server_metadata(self) -> tuple[str, str, list[str]]:
        meta = await _done(self.c.get_server_metadata())
        if isinstance(meta, dict):
            return meta["name"], meta["version"], list(meta["extensions"])
        return meta.name, meta.version, list(meta.extensions)

    async def unload(self, name: str) -> None:
        await _done(self.c.unload_model(name))

    async def call(self, model: str, tensors: list, request_id: str, requested, parameters, timeout, **coding):
        """The client's ``infer`` with the case's request, compressed as ``coding`` says;
        ``timeout`` (microseconds) is the client's own ``infer(timeout=...)``."""
        return await _done(
            self.c.infer(
                model,
                tensors,
                request_id=request_id,
                outputs=requested,
                parameters=parameters,
                timeout=timeout,
                **coding,
            )
        )

    async def close(self) -> None:
        await _done(self.c.close())

    def error(self, exc: Exception) -> tuple[str, str] | None:
        from tritonclient.utils import InferenceServerException

        return (str(exc.status()), exc.message()) if isinstance(exc, InferenceServerException) else None


class TritonHTTP(_Triton):
    """``compression`` (gzip, deflate) codes every request body and asks for coded answers."""

    def __init__(
        self, rest: str, grpc_address: str, binary: bool, compression: str | None = None, aio: bool = False
    ) -> None:
        if aio:  # its asyncio client (aiohttp): the same calls, awaited; no coding observed
            import tritonclient.http.aio as aio_client

            self.m, self.binary, self.compression = aio_client, binary, None
            self.c = aio_client.InferenceServerClient(rest.removeprefix("http://"))
            return
        import tritonclient.http as client

        class Observed(client.InferenceServerClient):
            """The client as it is, noting how each answer was coded (it decodes them itself)."""

            answer_coding: str | None = None

            def _post(self, *args, **kwargs):
                response = super()._post(*args, **kwargs)
                self.answer_coding = response.get("Content-Encoding")
                return response

        self.m, self.binary, self.compression = client, binary, compression
        self.c = Observed(rest.removeprefix("http://"))

    async def metadata(self, name: str) -> str:
        return (await _done(self.c.get_model_metadata(name)))["name"]

    async def infer(self, inputs, request_id="", outputs=None, parameters=None, model=MODEL, timeout=None) -> Answer:
        tensors = _triton_inputs(self.m, inputs, binary_data=self.binary)
        names = outputs or [name for name, _, _ in inputs]
        requested = (
            [self.m.InferRequestedOutput(n, binary_data=self.binary) for n in names]
            if (outputs or not self.binary)
            else None
        )
        coding = {"request_compression_algorithm": self.compression, "response_compression_algorithm": self.compression}
        r = await self.call(model, tensors, request_id, requested, parameters, timeout, **coding)
        response = r.get_response()
        found = {o["name"] for o in response["outputs"]}
        return Answer(response.get("id", ""), {n: r.as_numpy(n) for n in found}, response.get("parameters") or {})


class TritonGRPC(_Triton):
    """``compression`` (gzip, deflate) is gRPC's own message compression of each request."""

    def __init__(self, rest: str, grpc_address: str, compression: str | None = None, aio: bool = False) -> None:
        if aio:  # its asyncio client (grpc.aio): the same calls, awaited
            import tritonclient.grpc.aio as client
        else:
            import tritonclient.grpc as client

        self.m, self.grpc_compression = client, compression
        self.c = client.InferenceServerClient(grpc_address)

    async def metadata(self, name: str) -> str:
        return (await _done(self.c.get_model_metadata(name))).name

    async def infer(self, inputs, request_id="", outputs=None, parameters=None, model=MODEL, timeout=None) -> Answer:
        tensors = _triton_inputs(self.m, inputs)
        requested = [self.m.InferRequestedOutput(n) for n in outputs] if outputs else None
        r = await self.call(
            model, tensors, request_id, requested, parameters, timeout, compression_algorithm=self.grpc_compression
        )
        response = r.get_response()
        params = {k: getattr(v, v.WhichOneof("parameter_choice")) for k, v in response.parameters.items()}
        return Answer(response.id, {o.name: r.as_numpy(o.name) for o in response.outputs}, params)


class _KServe:
    def _request(self, inputs, request_id, outputs, parameters, binary: bool, model: str, timeout=None):
        from kserve import InferInput, InferRequest
        from kserve.protocol.infer_type import RequestedOutput

        tensors = []
        for name, array, datatype in inputs:
            t = InferInput(name, list(array.shape), datatype)
            t.set_data_from_numpy(array, binary_data=binary)
            tensors.append(t)
        requested = [RequestedOutput(n) for n in outputs] if outputs else None
        if timeout is not None:  # KServe's clients send Triton's timeout as any other parameter
            parameters = {**(parameters or {}), "timeout": timeout}
        return InferRequest(
            model, tensors, request_id=request_id or None, parameters=parameters, request_outputs=requested
        )

    @staticmethod
    def _answer(response) -> Answer:
        params = response.parameters or {}
        if hasattr(params, "items") and not isinstance(params, dict):
            params = {k: getattr(v, v.WhichOneof("parameter_choice")) for k, v in params.items()}
        return Answer(response.id or "", {o.name: o.as_numpy() for o in response.outputs}, dict(params))

    async def metadata(self, name: str) -> str:
        raise NotOffered("KServe's client has no model metadata call")

    async def server_metadata(self) -> tuple[str, str, list[str]]:
        raise NotOffered("KServe's client has no server metadata call")

    async def unload(self, name: str) -> None:
        raise NotOffered("KServe's client has no model repository calls")


class KServeREST(_KServe):
    def __init__(self, rest: str, grpc_address: str, binary: bool) -> None:
        from kserve import InferenceRESTClient, RESTConfig

        self.url, self.binary = rest, binary
        self.c = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))

    async def live(self) -> bool:
        return await self.c.is_server_live(self.url)

    async def ready(self) -> bool:
        return await self.c.is_server_ready(self.url)

    async def model_ready(self, name: str) -> bool:
        return await self.c.is_model_ready(self.url, name)

    async def infer(self, inputs, request_id="", outputs=None, parameters=None, model=MODEL, timeout=None) -> Answer:
        from kserve.errors import InvalidInput

        try:
            request = self._request(inputs, request_id, outputs, parameters, self.binary, model, timeout)
            return self._answer(await self.c.infer(self.url, request, model_name=model))
        except InvalidInput as exc:
            raise NotOffered(f"refused by the client: {exc}") from None

    def error(self, exc: Exception) -> tuple[str, str] | None:
        import httpx

        if isinstance(exc, httpx.HTTPStatusError):
            return str(exc.response.status_code), str(exc)
        return None


class KServeGRPC(_KServe):
    def __init__(self, rest: str, grpc_address: str) -> None:
        from kserve import InferenceGRPCClient

        self.c = InferenceGRPCClient(grpc_address, channel_args=[("grpc.enable_retries", 0)], timeout=30)

    async def live(self) -> bool:
        return await self.c.is_server_live()

    async def ready(self) -> bool:
        return await self.c.is_server_ready()

    async def model_ready(self, name: str) -> bool:
        return await self.c.is_model_ready(name)

    async def infer(self, inputs, request_id="", outputs=None, parameters=None, model=MODEL, timeout=None) -> Answer:
        request = self._request(inputs, request_id, outputs, parameters, True, model, timeout)
        return self._answer(await self.c.infer(request))

    def error(self, exc: Exception) -> tuple[str, str] | None:
        import grpc

        return (str(exc.code()), exc.details()) if isinstance(exc, grpc.aio.AioRpcError) else None


def make_client(kind: str, rest: str, grpc_address: str):
    factories: dict[str, Callable[[], Any]] = {
        "tritonclient.http/binary": lambda: TritonHTTP(rest, grpc_address, binary=True),
        "tritonclient.http/json": lambda: TritonHTTP(rest, grpc_address, binary=False),
        "tritonclient.http/binary+gzip": lambda: TritonHTTP(rest, grpc_address, binary=True, compression="gzip"),
        "tritonclient.http/json+gzip": lambda: TritonHTTP(rest, grpc_address, binary=False, compression="gzip"),
        "tritonclient.http/binary+deflate": lambda: TritonHTTP(rest, grpc_address, True, "deflate"),
        "tritonclient.http/json+deflate": lambda: TritonHTTP(rest, grpc_address, False, "deflate"),
        "tritonclient.grpc": lambda: TritonGRPC(rest, grpc_address),
        "tritonclient.grpc+gzip": lambda: TritonGRPC(rest, grpc_address, "gzip"),
        "tritonclient.http.aio/binary": lambda: TritonHTTP(rest, grpc_address, binary=True, aio=True),
        "tritonclient.grpc.aio": lambda: TritonGRPC(rest, grpc_address, aio=True),
        "kserve.rest/binary": lambda: KServeREST(rest, grpc_address, binary=True),
        "kserve.rest/json": lambda: KServeREST(rest, grpc_address, binary=False),
        "kserve.grpc": lambda: KServeGRPC(rest, grpc_address),
    }
    return factories[kind]()


def _same(got: np.ndarray, sent: np.ndarray) -> bool:
    def norm(a: np.ndarray) -> list:
        return [v.decode() if isinstance(v, bytes) else v for v in np.asarray(a).ravel().tolist()]

    return list(np.asarray(got).shape) == list(sent.shape) and norm(got) == norm(sent)


async def run_cases(client, kind: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    async def case(name: str, check) -> None:
        try:
            ok, seen = await check()
        except NotOffered as exc:
            results.append({"case": name, "ok": None, "seen": str(exc)})
            return
        except Exception as exc:  # noqa: BLE001 - recorded as the case's failure, with what was raised
            ok, seen = False, f"{type(exc).__name__}: {exc}"
        results.append({"case": name, "ok": bool(ok), "seen": seen})

    async def expect(value_of, expected):
        value = await value_of()
        return value == expected, repr(value)

    await case("server live", lambda: expect(client.live, True))
    await case("server ready", lambda: expect(client.ready, True))
    await case("model ready", lambda: expect(lambda: client.model_ready(MODEL), True))
    await case("model metadata", lambda: expect(lambda: client.metadata(MODEL), MODEL))

    async def server_metadata():
        # Each names itself and the one extension it serves (KServe's named one it does not).
        name, version, extensions = await client.server_metadata()
        ok = name.startswith("ml-serving-") and bool(version) and extensions == ["binary_tensor_data"]
        return ok, repr((name, version, extensions))

    await case("server metadata", server_metadata)
    for datatype in DATATYPES:
        array = sample(datatype)

        async def echo(array=array, datatype=datatype):
            answer = await client.infer([("x", array, datatype)])
            got = answer.outputs.get("x")
            return got is not None and _same(got, array), repr(None if got is None else got.tolist())

        await case(f"infer {datatype}", echo)
    for shape, datatype in (((2, 3), "FP32"), ((2, 2, 2), "INT64")):
        array = (
            np.arange(int(np.prod(shape)))
            .reshape(shape)
            .astype(datatype.replace("FP", "float").replace("INT", "int").lower())
        )

        async def tensor(array=array, datatype=datatype):
            answer = await client.infer([("x", array, datatype)], outputs=["predict"])
            got = answer.outputs.get("predict")
            return got is not None and _same(got, array), repr(None if got is None else list(got.shape))

        await case(f"infer shape {list(shape)}", tensor)

    async def request_id():
        answer = await client.infer([("x", sample("FP64"), "FP64")], request_id="conformance-42")
        return answer.request_id == "conformance-42", repr(answer.request_id)

    async def requested_outputs():
        answer = await client.infer([("a", sample("INT32"), "INT32"), ("b", sample("FP64"), "FP64")], outputs=["b"])
        return sorted(answer.outputs) == ["b"] and _same(answer.outputs["b"], sample("FP64")), repr(
            sorted(answer.outputs)
        )

    async def parameters():
        answer = await client.infer([("x", sample("FP64"), "FP64")], parameters={"tenant": "acme"})
        return answer.parameters.get("tenant") == "acme", repr(answer.parameters)

    if compression := getattr(client, "compression", None):

        async def coded_answer():
            # Large enough to be worth compressing (small answers go as they are).
            array = np.linspace(0, 1, 2048, dtype=np.float32)
            answer = await client.infer([("x", array, "FP32")])
            seen = client.c.answer_coding
            return seen == compression and _same(answer.outputs["x"], array), f"Content-Encoding: {seen}"

        await case("compressed answer", coded_answer)

    async def within_timeout():
        answer = await client.infer([("x", sample("FP64"), "FP64")], timeout=30_000_000)
        return _same(answer.outputs["x"], sample("FP64")), repr(answer.outputs["x"].tolist())

    await case("request id echoed", request_id)
    await case("request timeout, within it", within_timeout)
    await case("requested outputs", requested_outputs)
    await case("parameters", parameters)

    async def refused(call, status: str, message: str | tuple[str, ...]):
        try:
            await call()
        except NotOffered:
            raise
        except Exception as exc:  # noqa: BLE001 - what the client surfaces is the point
            seen = client.error(exc)
            if seen is None:
                raise
            messages = (message,) if isinstance(message, str) else message  # any one of them
            return seen[0] == status and any(m in seen[1] for m in messages), f"{seen[0]}: {seen[1]}"
        return False, "no error"

    grpc_client = "grpc" in kind.partition("/")[0]
    ragged = [("a", sample("FP64"), "FP64"), ("b", np.arange(3.0), "FP64")]
    await case(
        "bad request: rows differ",
        lambda: refused(
            lambda: client.infer(ragged), "StatusCode.INVALID_ARGUMENT" if grpc_client else "400", "same number of rows"
        ),
    )
    await case(
        "bad request: unknown output",
        lambda: refused(
            lambda: client.infer([("x", sample("FP64"), "FP64")], outputs=["nope"]),
            "StatusCode.INVALID_ARGUMENT" if grpc_client else "400",
            "Output 'nope' is not an output of this model",
        ),
    )
    # Over both processes' default limits (the gateway's 1 MiB, the model server's 4 MiB) in every
    # encoding: 4.8 MB as raw tensors or JSON; compressed, a few KiB that inflate past the limit.
    oversized = np.zeros((1, 1_200_000), dtype=np.float32)
    await case(
        "bad request: body over the limit",
        lambda: refused(
            lambda: client.infer([("x", oversized, "FP32")]),
            "StatusCode.RESOURCE_EXHAUSTED" if grpc_client else "413",
            "larger than max" if grpc_client else "limit",
        ),
    )
    # Out of time before anything can be done (1 us): UNAVAILABLE, as Triton answers a request
    # whose timeout expired in its queue; neither process predicts it.
    await case(
        "request timeout, run out",
        lambda: refused(
            lambda: client.infer([("x", sample("FP64"), "FP64")], timeout=1),
            "StatusCode.UNAVAILABLE" if grpc_client else "503",
            # The model server's batch queue, or the gateway, which has no time to call it.
            ("timeout ran out", "the caller's deadline of 0 ms"),
        ),
    )

    async def unload_refused():
        ok, seen = await refused(
            lambda: client.unload(MODEL),
            "StatusCode.UNIMPLEMENTED" if grpc_client else "404",
            ("model repository extension is not served", "speaks the V2 protocol", "no such route"),
        )
        return ok and await client.model_ready(MODEL), seen

    await case("model repository: unload refused", unload_refused)
    await case(
        "bad request: unknown model",
        lambda: refused(
            lambda: client.infer([("x", sample("FP64"), "FP64")], model="nope"),
            "StatusCode.NOT_FOUND" if grpc_client else "404",
            "nope",
        ),
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("client", choices=CLIENTS)
    parser.add_argument("targets", nargs="+", help="NAME=REST_URL,GRPC_ADDRESS")
    args = parser.parse_args(argv)
    for target in args.targets:
        name, _, addresses = target.partition("=")
        rest, grpc_address = addresses.split(",")

        async def run(rest: str = rest, grpc_address: str = grpc_address) -> list[dict[str, Any]]:
            client = make_client(args.client, rest, grpc_address)
            try:
                return await run_cases(client, args.client)
            finally:
                if hasattr(client, "close"):
                    await client.close()

        for result in asyncio.run(run()):
            print(json.dumps({"client": args.client, "target": name, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
