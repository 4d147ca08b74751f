"""The gateway's HTTP front: V2 (and V1 predict) in, the traffic policy behind it.

``create_app(config, settings)`` builds everything from a ``GatewayConfig``; nothing happens at
import time. Health and ``/metrics`` are open; every model route needs a bearer token when the
config says so.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from runtime.errors import MLServingError
from runtime.gateway.auth import Unauthorized
from runtime.gateway.gateway import Gateway, json_response
from runtime.gateway.payload import parse_v1, parse_v2
from runtime.gateway.report import build_report
from runtime.gateway.settings import Settings
from runtime.gateway.upstream import UpstreamError
from runtime.wiring import GatewayConfig

__all__ = ["create_app"]


def create_app(config: GatewayConfig, settings: Settings | None = None) -> FastAPI:
    gw = Gateway(config, settings or Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await gw.start()
        try:
            yield
        finally:
            await gw.aclose()

    app = FastAPI(title="ml-serving gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gw

    @app.exception_handler(MLServingError)
    async def _error(_: Request, exc: MLServingError) -> Response:
        headers = {"www-authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return json_response({"error": exc.message}, int(exc.status), headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return json_response({"error": str(exc.detail)}, exc.status_code, exc.headers)

    @app.get("/v2/health/live")
    async def live() -> Response:
        return json_response({"live": True})

    @app.get("/v2/health/ready")
    async def ready() -> Response:
        is_ready = bool(gw.routes) or not config.models
        return json_response({"ready": is_ready}, 200 if is_ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        gw.refresh_breakers()
        return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # The two inference routes are plain Starlette routes: FastAPI's dependency solving costs
    # about a tenth of the gateway's whole per-request budget and these take no parameters.
    async def infer(request: Request) -> Response:
        started = time.monotonic()
        gw.authorize(request)
        route = gw.route(request.path_params["model"])
        inbound = parse_v2(await gw.read_body(request))
        return await gw.serve(route, inbound, request, started)

    async def predict(request: Request) -> Response:
        started = time.monotonic()
        gw.authorize(request)
        route = gw.route(request.path_params["model"])
        inbound = parse_v1(await gw.read_body(request))
        return await gw.serve(route, inbound, request, started, v1=True)

    app.add_route("/v2/models/{model}/infer", infer, methods=["POST"])
    app.add_route("/v1/models/{model}:predict", predict, methods=["POST"])

    @app.get("/v2/models/{model}")
    async def metadata(model: str, request: Request) -> Response:
        gw.authorize(request)
        route = gw.route(model)
        primary = route.targets[route.spec.primary.variant_name]
        document: dict = {}
        try:
            status, body = await primary.upstream.get(primary.path.removesuffix("/infer"), 1.0)
            if status == 200:
                document = orjson.loads(body)
        except (UpstreamError, orjson.JSONDecodeError):
            document = {}
        document = document if isinstance(document, dict) else {}
        document["name"] = model
        document["versions"] = list(route.targets)
        document.setdefault("platform", "ml-serving-gateway")
        document.setdefault("inputs", [])
        document.setdefault("outputs", [])
        return json_response(document)

    @app.get("/v2/models/{model}/ready")
    async def model_ready(model: str, request: Request) -> Response:
        gw.authorize(request)
        route = gw.route(model)
        is_ready = await gw.model_ready(route)
        return json_response({"name": model, "ready": is_ready}, 200 if is_ready else 503)

    @app.get("/rollouts/{model}/report")
    async def report(model: str, request: Request) -> Response:
        gw.authorize(request)
        route = gw.route(model)
        roles = {v.variant_name: v.role for v in route.spec.live_variants}
        weights = {v.variant_name: v.weight for v in route.spec.live_variants}
        return json_response(build_report(model, route.stats, roles, weights))

    return app
