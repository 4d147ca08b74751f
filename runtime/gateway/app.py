"""The gateway's REST transport: V2 (and V1 predict) in, the policy core behind it.

``create_app(config, settings)`` builds everything from a ``GatewayConfig``; nothing happens at
import time. Health, the server metadata (``GET /v2``), ``/metrics`` and the OpenAPI document
(``/openapi.json``) are open; every
model route needs a bearer token when the config says so. This module only reads bodies and writes responses: every rule lives in the
policy core (runtime/gateway/gateway.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

from runtime.bodylimit import read_limited
from runtime.contentcoding import ContentCoding, coded_body
from runtime.errors import MLServingError, route_error
from runtime.gateway.auth import Unauthorized
from runtime.gateway.gateway import SERVER_NAME, Gateway, Outcome
from runtime.gateway.openapi import OPENAPI_PATH, openapi_document
from runtime.gateway.payload import Inbound, parse_v1, parse_v2, v1_predictions
from runtime.gateway.report import build_report
from runtime.gateway.settings import Settings
from runtime.protocol.binary import HEADER_LENGTH, OCTET_STREAM, encode_response
from runtime.protocol.metadata import server_metadata
from runtime.wiring import GatewayConfig

__all__ = ["GatewayApp", "create_app", "json_response", "read_body"]

INFER_PATH = "/v2/models/{model}/infer"
PREDICT_PATH = "/v1/models/{model}:predict"
Endpoint = Callable[[Request], Awaitable[Response]]


def json_response(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes before it is all read."""
    return await read_limited(request, limit, "maxBodyBytes")


def _rest_answer(outcome: Outcome, inbound: Inbound, v1: bool) -> Response:
    headers = outcome.headers()
    if outcome.error is not None:
        return json_response({"error": outcome.error.message}, int(outcome.error.status), headers)
    response = outcome.response or {}
    if v1:
        return json_response({"predictions": v1_predictions(response.get("outputs") or [])}, 200, headers)
    body, header_length = encode_response(response, inbound.outputs)
    if header_length is None:
        return Response(body, headers=headers, media_type="application/json")
    headers[HEADER_LENGTH] = str(header_length)
    return Response(body, headers=headers, media_type=OCTET_STREAM)


def error_response(exc: MLServingError) -> Response:
    headers = {"www-authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return json_response({"error": exc.message}, int(exc.status), headers)


class GatewayApp(FastAPI):
    """The gateway's FastAPI app, with a lane for inference requests whose body is not coded.

    Such a POST to an inference route goes straight to its endpoint, ahead of the middleware
    stack and the router: matched by the router's own path regex, answered by the same endpoint
    function, its errors by the same handler, its answer compressed as asked by the same
    ``ContentCoding`` the stack holds. None of the layers it skips would change such a request;
    they were about a tenth of the gateway's CPU per request at concurrency 32. A coded body,
    and every other request, takes the whole app.
    """

    def __init__(self, coding: ContentCoding, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.coding = coding
        self.lanes: list[tuple[Any, Endpoint]] = []

    def lane(self, path: str, endpoint: Endpoint) -> None:
        self.lanes.append((compile_path(path)[0], endpoint))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            path = scope["path"]
            for regex, endpoint in self.lanes:
                match = regex.match(path)
                if match is not None and not coded_body(scope["headers"]):
                    scope["path_params"] = match.groupdict()
                    await self._serve(endpoint, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def _serve(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await endpoint(Request(scope, receive))
        except MLServingError as exc:
            response = error_response(exc)
        except ClientDisconnect:  # the caller left before its body was in: no one to answer
            return
        await response(scope, receive, self.coding.answering(scope, send))


def create_app(config: GatewayConfig, settings: Settings | None = None) -> GatewayApp:
    gw = Gateway(config, settings or Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await gw.start()
        grpc_server = None
        try:
            if gw.settings.grpc_port is not None:
                # Imported only when served: the messages come from kserve, a heavy import that
                # parses sys.argv (runtime/gateway/__main__.py clears it first).
                from runtime.gateway.grpc_server import start_grpc

                grpc_server, app.state.grpc_port = await start_grpc(gw, gw.settings.grpc_host, gw.settings.grpc_port)
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=1.0)
            await gw.aclose()

    # FastAPI's native OpenTelemetry is off: the gateway configures no provider, so it would only
    # look the global providers up on every request (a few per cent of the gateway's CPU).
    # gzip/deflate bodies in, and out when asked (Triton's HTTP server does both); the body limit
    # bounds the decompressed size.
    coding = ContentCoding(None, max_body_bytes=config.max_body_bytes, setting="maxBodyBytes")
    app = GatewayApp(
        coding,
        title="ml-serving gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.gateway = gw
    app.state.grpc_port = None
    app.add_middleware(ContentCoding, max_body_bytes=coding.max_body_bytes, setting=coding.setting)

    @app.exception_handler(MLServingError)
    async def _error(_: Request, exc: MLServingError) -> Response:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error = route_error(
            request.method, request.url.path, exc.status_code, f"the gateway's API is GET {OPENAPI_PATH}"
        )
        return json_response({"error": error or str(exc.detail)}, exc.status_code, exc.headers)

    async def call(request: Request, v1: bool) -> Response:
        started = time.monotonic()
        gw.authorize(request.headers)
        route = gw.route(request.path_params["model"])
        body = await read_body(request, config.max_body_bytes)
        inbound = parse_v1(body) if v1 else parse_v2(body, request.headers.get(HEADER_LENGTH))
        answer = _rest_answer(await gw.infer(route, inbound, request.headers, started), inbound, v1)
        # W3C Server-Timing: the gateway's own time on the request, which the latency budget bounds.
        answer.headers["server-timing"] = f"gateway;dur={(time.monotonic() - started) * 1000:.2f}"
        return answer

    # The two inference routes are plain Starlette routes: FastAPI's dependency solving costs
    # about a tenth of the gateway's whole per-request budget and these take no parameters.
    async def infer(request: Request) -> Response:
        return await call(request, v1=False)

    async def predict(request: Request) -> Response:
        return await call(request, v1=True)

    # Registered first: the router tries routes in order, and these take every request whose
    # body is coded (the lane takes the others).
    for path, endpoint in ((INFER_PATH, infer), (PREDICT_PATH, predict)):
        app.add_route(path, endpoint, methods=["POST"])
        app.lane(path, endpoint)

    @app.get("/v2")
    async def server() -> Response:
        return json_response(server_metadata(SERVER_NAME))

    @app.get("/v2/health/live")
    async def live() -> Response:
        return json_response({"live": True})

    @app.get("/v2/health/ready")
    async def ready() -> Response:
        return json_response({"ready": gw.ready}, 200 if gw.ready else 503)

    document = orjson.dumps(openapi_document(config))

    @app.get(OPENAPI_PATH)
    async def openapi() -> Response:
        return Response(document, media_type="application/json")

    @app.get("/metrics")
    async def metrics() -> Response:
        gw.refresh_breakers()
        return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v2/models/{model}")
    async def metadata(model: str, request: Request) -> Response:
        gw.authorize(request.headers)
        return json_response(await gw.model_metadata(gw.route(model)))

    @app.get("/v2/models/{model}/ready")
    async def model_ready(model: str, request: Request) -> Response:
        gw.authorize(request.headers)
        is_ready = await gw.model_ready(gw.route(model))
        return json_response({"name": model, "ready": is_ready}, 200 if is_ready else 503)

    @app.get("/rollouts/{model}/report")
    async def report(model: str, request: Request) -> Response:
        gw.authorize(request.headers)
        route = gw.route(model)
        roles = {v.variant_name: v.role for v in route.spec.live_variants}
        weights = {v.variant_name: v.weight for v in route.spec.live_variants}
        return json_response(build_report(model, route.stats, roles, weights))

    return app
