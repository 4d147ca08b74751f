"""The drift monitor's HTTP API (FastAPI)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from starlette.requests import ClientDisconnect

from runtime.auth import TokenSet, load_tokens
from runtime.bodylimit import BodyLimit
from runtime.drift.cloudevents import REQUEST_TYPE, parse_event
from runtime.drift.metrics import DriftCollector
from runtime.drift.report import render_report
from runtime.drift.service import DriftService
from runtime.drift.settings import MonitorSettings
from runtime.errors import InvalidInput, MLServingError, ModelNotFound, validation_problems
from runtime.experiments.routes import ExperimentCollector, add_experiment_routes
from runtime.experiments.service import ExperimentService
from runtime.wiring import INGEST_PATH, MonitorConfig, TapBatch, inference_service_name

__all__ = ["create_app", "CLOUDEVENTS_PATH", "LabelBatch"]

_Body = TypeVar("_Body", bound=BaseModel)

CLOUDEVENTS_PATH = "/cloudevents"
"""Where KServe's payload logger posts (``logger.url``); ``?model=&variant=`` may name the target."""


class _Label(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)
    request_id: str
    label: Any


class LabelBatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    labels: list[_Label] = Field(min_length=1)


def _target(service: DriftService, request: Request, inference_service: str | None, endpoint: str | None):
    model, variant = request.query_params.get("model"), request.query_params.get("variant")
    models = service.config.models
    if model is None and inference_service in models:
        model = inference_service
    if model is None and inference_service:
        for name, declared in models.items():
            for v in declared.variants:
                if inference_service == inference_service_name(name, v):
                    model, variant = name, v.variant_name
    if model is None:
        raise ModelNotFound.unmatched_logger(inference_service, models)
    spec = service.config.models.get(model)
    if variant is None and spec is not None:
        names = [v.variant_name for v in spec.variants]
        variant = endpoint if endpoint in names else spec.primary.variant_name
    return model, variant


def _validated(model: type[_Body], body: bytes) -> _Body:
    """``body`` as ``model``, or a 400 naming each field that is wrong (as for any other route)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput("; ".join(validation_problems(exc.errors(include_url=False), root="body"))) from None


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The request body's schema for the OpenAPI document, for a route that reads the body itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _tokens(settings: MonitorSettings) -> TokenSet:
    tokens = TokenSet(load_tokens(settings.tokens, settings.tokens_file, what="drift monitor"))
    if settings.auth_required and not tokens:
        raise MLServingError(
            "the drift monitor requires bearer tokens (ML_SERVING_DRIFT_AUTH_REQUIRED is true) but none are "
            "configured: set ML_SERVING_DRIFT_TOKENS or ML_SERVING_DRIFT_TOKENS_FILE (the gateway's tap sends it)"
        )
    return tokens


def create_app(config: MonitorConfig, settings: MonitorSettings | None = None, service: DriftService | None = None):
    """The monitor's API. Every route but ``/healthz`` and ``/metrics`` needs a bearer token when
    ``auth_required`` (the default); bodies over ``max_body_bytes`` get 413 unread."""
    settings = settings or MonitorSettings()
    tokens = _tokens(settings)
    service = service or DriftService(config, settings)
    experiments = ExperimentService(config, settings)
    registry = CollectorRegistry()
    registry.register(DriftCollector(service))
    registry.register(ExperimentCollector(experiments))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            experiments.save_all()

    async def authorized(request: Request) -> None:
        if settings.auth_required:
            tokens.check(request.headers.get("authorization"))

    app = FastAPI(title="ml-serving drift monitor", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes, setting="ML_SERVING_DRIFT_MAX_BODY_BYTES")
    app.state.service = service
    app.state.experiments = experiments
    guard = [Depends(authorized)]

    @app.exception_handler(MLServingError)
    async def _error(_: Request, exc: MLServingError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=int(exc.status))

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, __: ClientDisconnect) -> Response:
        return Response(status_code=400)  # the client left before its body was in: no one to answer

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(validation_problems(exc.errors(), root="body", drop=1))
        return JSONResponse({"error": problems}, status_code=400)

    # The body is parsed and validated in one pass (pydantic-core reads the JSON itself): a tap
    # batch is hundreds of records, and FastAPI's json.loads then validate_python took twice the
    # time of the whole ingest (bench/drift_ingest.py).
    @app.post(INGEST_PATH, status_code=202, dependencies=guard, openapi_extra=_body_schema(TapBatch))
    async def ingest(request: Request) -> dict[str, Any]:
        batch = _validated(TapBatch, await request.body())
        experiments.expose(batch.records)
        return service.ingest_batch(batch)

    @app.post(CLOUDEVENTS_PATH, status_code=202, dependencies=guard)
    async def cloudevent(request: Request) -> dict[str, int]:
        event = parse_event(request.headers, await request.body())
        model, variant = _target(service, request, event.inference_service, event.endpoint)
        if event.type == REQUEST_TYPE:
            return {"rows": service.ingest(model, variant, event.columns, {})}
        service.ingest(model, variant, {}, event.columns)
        return {"rows": 0}

    @app.post("/labels/{model}", dependencies=guard)
    async def post_labels(model: str, batch: LabelBatch) -> dict[str, Any]:
        service.variants(model)
        store = service.labels[model]
        unknown = [item.request_id for item in batch.labels if not store.label(item.request_id, item.label)]
        # Persisted by the label journal's writer, off this request (runtime/drift/journal.py).
        return {"matched": len(batch.labels) - len(unknown), "unknown": unknown[:100]}

    @app.get("/labels/{model}", dependencies=guard)
    async def get_labels(model: str) -> dict[str, Any]:
        service.variants(model)
        return {"model": model, "variants": service.labels[model].summary()}

    @app.get("/status/{model}", dependencies=guard)
    async def status(model: str) -> dict[str, Any]:
        return {
            "model": model,
            "variants": {
                m.variant: {
                    "rows_seen": m.rows_seen,
                    "windows": m.windows_done,
                    "window_rows": m.window_rows,
                    "last": m.last.to_dict() if m.last else None,
                }
                for m in service.variants(model)
            },
        }

    @app.get("/report/{model}", response_class=HTMLResponse, dependencies=guard)
    async def report(model: str) -> HTMLResponse:
        return HTMLResponse(render_report(model, service.variants(model)))

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    add_experiment_routes(app, experiments, guard=guard)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "variants": len(service.monitors)}

    return app
