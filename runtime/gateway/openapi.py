"""The OpenAPI document of the gateway's REST API, built from its config and the protocol models.

The Open Inference Protocol's REST paths (health, model metadata and readiness, infer in JSON
or with binary tensors) plus the project's own (V1 predict, the rollout report, metrics). Model
names are the served ones, so a client (or a fuzzer) driven by the document reaches real
routes; message schemas come from the pydantic models the gateway validates with.
"""

from __future__ import annotations

from typing import Any

from runtime.protocol.types import InferenceRequest, InferenceResponse, ModelMetadata
from runtime.wiring import GatewayConfig

__all__ = ["openapi_document", "OPENAPI_PATH"]

OPENAPI_PATH = "/openapi.json"
_REF = "#/components/schemas/{model}"


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (InferenceRequest, InferenceResponse, ModelMetadata):
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What was wrong, naming the field."}},
    }
    schemas["ServerMetadata"] = {
        "type": "object",
        "required": ["name", "version", "extensions"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}},
        },
    }
    schemas["V1Request"] = {
        "type": "object",
        "required": ["instances"],
        "properties": {"instances": {"type": "array", "minItems": 1, "items": {}}},
    }
    return schemas


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Invalid input, naming the field",
        401: "Missing or invalid bearer token",
        404: "Model not served by this gateway",
        413: "Body over maxBodyBytes",
        503: "No variant answered within the budget and no fallback is declared, or not ready",
    }
    return {str(s): {"description": reasons[s], "content": _json("Error")} for s in statuses}


def openapi_document(config: GatewayConfig) -> dict[str, Any]:
    model = {
        "name": "model",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": sorted(config.models) or ["none"]},
        "description": "A model this gateway serves.",
    }
    secured: list[dict[str, list[str]]] = [{"bearer": []}] if config.auth_required else []
    authed = _errors(401, 404) if config.auth_required else _errors(404)
    binary = {
        "schema": {"type": "string", "format": "binary"},
        "description": "The binary tensor extension: a JSON header of Inference-Header-Content-Length bytes, then raw tensors.",
    }
    header_length = {
        "name": "Inference-Header-Content-Length",
        "in": "header",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
        "description": "Length of the JSON header of a binary request (with application/octet-stream).",
    }
    codings = [
        {
            "name": "Content-Encoding",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "enum": ["gzip", "deflate", "identity"]},
            "description": "Coding of the request body; maxBodyBytes bounds its decompressed size.",
        },
        {
            "name": "Accept-Encoding",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "gzip or deflate: answers of 500 bytes or more come back compressed.",
        },
    ]
    infer_answers = {
        "200": {
            "description": "The answer; a fallback's is marked by the x-ml-serving-fallback header",
            "content": {
                **_json("InferenceResponse"),
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **_errors(400, 413, 503),
        **authed,
    }

    def get(summary: str, answers: dict[str, Any], params: list | None = None, security: list | None = None) -> dict:
        operation: dict[str, Any] = {"summary": summary, "responses": answers, "security": security or []}
        if params:
            operation["parameters"] = params
        return {"get": operation}

    paths = {
        "/v2": get("Server metadata", {"200": {"description": "Metadata", "content": _json("ServerMetadata")}}),
        "/v2/health/live": get("Server liveness", {"200": {"description": "Live"}}),
        "/v2/health/ready": get("Server readiness", {"200": {"description": "Ready"}, **_errors(503)}),
        "/v2/models/{model}": get(
            "Model metadata (the primary's, under the gateway's name)",
            {"200": {"description": "Metadata", "content": _json("ModelMetadata")}, **authed},
            [model],
            secured,
        ),
        "/v2/models/{model}/ready": get(
            "Model readiness", {"200": {"description": "Ready"}, **_errors(503), **authed}, [model], secured
        ),
        "/v2/models/{model}/infer": {
            "post": {
                "summary": "Infer (Open Inference Protocol), routed by the rollout's policy",
                "parameters": [model, header_length, *codings],
                "requestBody": {
                    "required": True,
                    "content": {**_json("InferenceRequest"), "application/octet-stream": binary},
                },
                "responses": infer_answers,
                "security": secured,
            }
        },
        "/v1/models/{model}:predict": {
            "post": {
                "summary": "V1 predict: rows become V2 inputs",
                "parameters": [model],
                "requestBody": {"required": True, "content": _json("V1Request")},
                "responses": {"200": {"description": "Predictions"}, **_errors(400, 413, 503), **authed},
                "security": secured,
            }
        },
        "/rollouts/{model}/report": get(
            "Rollout report: per-variant traffic, latency, errors, fallbacks and shadow agreement",
            {"200": {"description": "The report"}, **authed},
            [model],
            secured,
        ),
        "/metrics": get("Prometheus metrics", {"200": {"description": "Prometheus text format"}}),
    }
    components: dict[str, Any] = {"schemas": _schemas()}
    if config.auth_required:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ml-serving gateway", "version": "2", "description": f"Stack {config.stack}"},
        "paths": paths,
        "components": components,
    }
