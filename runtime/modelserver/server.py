"""KServe's ModelServer, configured for this platform.

KServe serves health, metadata, model readiness and ``/metrics``, over the V2 protocol only:
its V1 routes and its model repository extension (load and unload, over REST and gRPC, for any
caller) are not served, and a route that is not served is a 404 ``{"error": "..."}`` like
every other error. Four more things are changed: the REST server binds the configured host (KServe hard-codes 0.0.0.0) and keeps no access log
or per-request timing log on the hot path; the V2 infer route is answered by a lean handler on
the project's codec, JSON or the binary tensor extension (runtime/protocol/binary.py), in front
of KServe's app and its middlewares (runtime/modelserver/front.py), so every
bad input gets 400 ``{"error": "..."}`` naming the input and a body over the limit 413 (KServe
0.16's own binary decoding, ``InferRequest.from_bytes``, is not used: a header without
``inputs`` raises KeyError, raw bytes short of the shape a bare ValueError, both 500s, and
bytes left over after the last input pass unnoticed); gzip and deflate bodies are decoded and
answers compressed when asked, as Triton's server does (runtime/contentcoding.py: KServe's app
reads a coded body as it is); and SIGTERM drains: uvicorn stops accepting, finishes in-flight
requests (the batch queue included), then the batchers close and the process exits 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time

import grpc
import kserve
import orjson
import uvloop
from fastapi import FastAPI
from grpc import aio
from grpc_interceptor.exceptions import GrpcException
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
from kserve.errors import ModelNotFound as KServeModelNotFound
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc
from kserve.protocol.grpc.interceptors import ExceptionToStatusInterceptor
from kserve.protocol.grpc.server import GRPCServer
from kserve.protocol.grpc.servicer import InferenceServicer
from kserve.protocol.rest.server import RESTServer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.importer import import_from_string

from runtime.bodylimit import BodyLimit
from runtime.contentcoding import ContentCoding
from runtime.errors import MLServingError, ModelNotFound, route_error
from runtime.httplimits import guarded_http
from runtime.modelserver.front import IN_FLIGHT, SERVED, SETTING, InferFront
from runtime.modelserver.model import GRPC_DEADLINE, MLflowModel
from runtime.protocol import error_body
from runtime.protocol.metadata import server_metadata

__all__ = ["ServingModelServer", "IN_FLIGHT"]

log = logging.getLogger(__name__)

_JSON = "application/json"


def _error(exc: MLServingError) -> Response:
    return Response(orjson.dumps(error_body(exc)), status_code=int(exc.status), media_type=_JSON)


async def _quiet_error(_: Request, exc: Exception) -> JSONResponse:
    status = int(getattr(exc, "status", 404 if isinstance(exc, KServeModelNotFound) else 500))
    return JSONResponse({"error": getattr(exc, "message", None) or str(exc)}, status_code=status)


SERVER_NAME = "ml-serving-model-server"
"""The model server's name in the V2 server metadata."""


async def _server_metadata(_: Request) -> Response:
    return Response(orjson.dumps(server_metadata(SERVER_NAME)), media_type=_JSON)


async def _no_route(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors as every other, ``{"error": "..."}``; a 404 or 405 says what is served."""
    status = int(getattr(exc, "status_code", 500))
    error = route_error(request.method, request.url.path, status, SERVED)
    return JSONResponse(
        {"error": error or str(getattr(exc, "detail", exc))},
        status_code=status,
        headers=getattr(exc, "headers", None),
    )


class _RESTServer(RESTServer):
    def __init__(self, server: ServingModelServer) -> None:
        super().__init__(
            FASTAPI_APP_IMPORT_STRING,
            server.dataplane,
            server.model_repository_extension,
            server.http_port,
            grace_period=server.grace_period,
        )
        self.registry = server.registered_models
        self.max_body_bytes = server.max_body_bytes
        self.config.host = server.host
        self.config.access_log = False
        self.config.http = guarded_http(server.read_timeout_s, "--read_timeout_s")

    def _add_middlewares(self, app: FastAPI) -> None:
        app.add_middleware(BodyLimit, max_body_bytes=self.max_body_bytes, setting=SETTING)

    def create_application(self) -> None:
        super().create_application()
        # Infer requests never reach KServe's own infer routes, its codec or its error handlers.
        front = InferFront(import_from_string(FASTAPI_APP_IMPORT_STRING), self._model, self.max_body_bytes)
        # Outermost, so that the limit bounds a coded body's decompressed size (KServe's app
        # decodes no Content-Encoding).
        self.config.app = ContentCoding(front, max_body_bytes=self.max_body_bytes, setting=SETTING)

    def _register_endpoints(self, app: FastAPI) -> None:
        super()._register_endpoints(app)
        app.router.routes.insert(0, Route("/v2/models/{model_name}", self._metadata, methods=["GET"]))
        app.router.routes.insert(0, Route("/v2", _server_metadata, methods=["GET"]))

    def _add_exception_handlers(self, app: FastAPI) -> None:
        super()._add_exception_handlers(app)
        app.add_exception_handler(MLServingError, _quiet_error)
        app.add_exception_handler(KServeModelNotFound, _quiet_error)
        app.add_exception_handler(StarletteHTTPException, _no_route)

    def _model(self, name: str) -> MLflowModel:
        model = self.registry.get_model(name)
        if isinstance(model, MLflowModel):
            return model
        raise ModelNotFound.not_served(name, self.registry.get_models())

    async def _metadata(self, request: Request) -> Response:
        """KServe's V2 metadata, plus ``parameters`` where the model reports where it runs."""
        name = request.path_params["model_name"]
        try:
            model = self._model(name)
        except ModelNotFound as exc:
            return _error(exc)
        body = {"name": name, "platform": "", "inputs": model.get_input_types(), "outputs": model.get_output_types()}
        if model.version:
            body["versions"] = [model.version]
        if parameters := model.parameters():
            body["parameters"] = parameters
        return Response(orjson.dumps(body), media_type=_JSON)


_NO_REPOSITORY = "the model repository extension is not served: a model server serves the one model it started with"


class _Servicer(InferenceServicer):
    """KServe's servicer, with each call's deadline handed on to the model (``GRPC_DEADLINE``),
    so that a request whose caller has stopped waiting is not predicted, as over REST; and
    without the repository extension (UNIMPLEMENTED, as the REST routes are 404s)."""

    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: aio.ServicerContext
    ) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(**server_metadata(SERVER_NAME))

    async def RepositoryModelLoad(self, request: pb.RepositoryModelLoadRequest, context: aio.ServicerContext) -> None:
        raise GrpcException(_NO_REPOSITORY, grpc.StatusCode.UNIMPLEMENTED)

    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, context: aio.ServicerContext
    ) -> None:
        raise GrpcException(_NO_REPOSITORY, grpc.StatusCode.UNIMPLEMENTED)

    async def ModelInfer(self, request: pb.ModelInferRequest, context: aio.ServicerContext) -> pb.ModelInferResponse:
        remaining = context.time_remaining()
        token = GRPC_DEADLINE.set(None if remaining is None else time.monotonic() + remaining)
        try:
            return await super().ModelInfer(request, context)
        finally:
            GRPC_DEADLINE.reset(token)


class _GRPCServer(GRPCServer):
    """KServe's gRPC server (its servicer, handing on deadlines, and error interceptor) on the configured host.

    KServe binds ``[::]`` and blocks in ``start`` until termination; this one binds ``host``,
    returns once listening, keeps KServe's per-call logging interceptor off the hot path and
    limits messages to the REST body limit.
    """

    def __init__(self, server: ServingModelServer) -> None:
        super().__init__(
            server.grpc_port,
            server.dataplane,
            server.model_repository_extension,
            kwargs={},
            grace_period=server.grace_period,
        )
        self.host = server.host
        self.max_message_bytes = server.max_body_bytes

    async def start(self, max_workers: int | None = None) -> int:
        self._server = aio.server(
            interceptors=(ExceptionToStatusInterceptor(),),
            options=[
                ("grpc.max_receive_message_length", self.max_message_bytes),
                ("grpc.max_send_message_length", self.max_message_bytes),
            ],
        )
        servicer = _Servicer(self._data_plane, self._model_repository_extension)
        grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, self._server)
        port = self._server.add_insecure_port(f"{self.host}:{self._port}")
        await self._server.start()
        return port


class ServingModelServer(kserve.ModelServer):
    def __init__(
        self,
        *,
        host: str,
        http_port: int,
        max_body_bytes: int,
        grace_period_s: int = 30,
        grpc_port: int | None = None,
        read_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(
            http_port=http_port,
            grpc_port=grpc_port or 0,
            workers=1,
            enable_grpc=False,
            enable_docs_url=False,
            enable_latency_logging=False,
            grace_period=grace_period_s,
        )
        self.host = host
        self.max_body_bytes = max_body_bytes
        self.read_timeout_s = read_timeout_s
        self.serve_grpc = grpc_port is not None
        for name in ("kserve.trace", "uvicorn.access"):
            logging.getLogger(name).setLevel(logging.WARNING)

    def start(self, models: list[MLflowModel]) -> None:
        self._register_and_check_atleast_one_model_is_ready(models)
        rest = _RESTServer(self)
        # uvicorn restores the previous handlers and re-raises the signal once drained; a no-op
        # handler then lets the process return normally (exit 0) instead of dying by SIGTERM.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        # MLflow, pandas, scikit-learn and KServe leave a few hundred thousand long-lived objects;
        # a full collection walking them stalls every request for hundreds of milliseconds (the
        # p99 under load). Freezing them after load and warm-up leaves the collector only the
        # objects that requests create.
        gc.collect()
        gc.freeze()
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self._serve_then_drain(rest, models))

    async def _serve_then_drain(self, rest: _RESTServer, models: list[MLflowModel]) -> None:
        self.setup_event_loop()
        log.info("serving %s on http://%s:%d", ", ".join(m.name for m in models), self.host, self.http_port)
        grpc_server = _GRPCServer(self) if self.serve_grpc else None
        if grpc_server is not None:
            port = await grpc_server.start()
            log.info("serving gRPC on %s:%d", self.host, port)
        await rest.start()
        if grpc_server is not None:
            await grpc_server.stop()
        for model in models:
            await model.drain()
        log.info("drained and stopped")
