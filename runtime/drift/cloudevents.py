"""KServe's payload logger: CloudEvents of served requests and responses, turned into columns.

KServe posts each request (type ``org.kubeflow.serving.inference.request``) and response
(``...inference.response``) as a binary-mode CloudEvent: ``ce-*`` headers and the V1 or V2
(Open Inference Protocol) body. Structured mode (``application/cloudevents+json``) is read too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.errors import InvalidInput

__all__ = ["REQUEST_TYPE", "RESPONSE_TYPE", "LoggedEvent", "parse_event"]

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"


@dataclass(frozen=True)
class LoggedEvent:
    type: str
    id: str
    inference_service: str | None
    endpoint: str | None
    columns: dict[str, list[Any]]
    """Inputs of a request event, outputs of a response event."""


def _tensors(tensors: Any, field: str) -> dict[str, list[Any]]:
    if not isinstance(tensors, list):
        raise InvalidInput(f"data.{field}: expected a list of named tensors")
    columns: dict[str, list[Any]] = {}
    for i, tensor in enumerate(tensors):
        if not isinstance(tensor, dict) or "name" not in tensor or "data" not in tensor:
            raise InvalidInput(f"data.{field}[{i}]: expected an object with 'name' and 'data'")
        data, shape = tensor["data"], tensor.get("shape") or []
        width = 1
        for d in shape[1:]:
            width *= d if isinstance(d, int) else 1
        if width > 1 and not any(isinstance(v, list) for v in data):
            # a flat [rows, k] matrix: one list of k values per row (the monitor splits it by the profile)
            columns[str(tensor["name"])] = [data[r * width : (r + 1) * width] for r in range(len(data) // width)]
            continue
        flat = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in data]
        columns[str(tensor["name"])] = flat
    return columns


def _columns(kind: str, data: Any) -> dict[str, list[Any]]:
    if not isinstance(data, dict):
        raise InvalidInput("data: expected a JSON object (a V1 or V2 inference body)")
    field = "inputs" if kind == REQUEST_TYPE else "outputs"
    if field in data:
        return _tensors(data[field], field)
    v1 = "instances" if kind == REQUEST_TYPE else "predictions"
    if v1 in data:
        rows = data[v1]
        if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
            return {k: [r.get(k) for r in rows] for k in dict.fromkeys(k for r in rows for k in r)}
        if kind == RESPONSE_TYPE and isinstance(rows, list):
            return {"prediction": rows}
        if isinstance(rows, list) and rows and all(isinstance(r, list) for r in rows):
            return {"instances": rows}  # row lists: the monitor splits them by the profile
        raise InvalidInput(f"data.{v1}: expected a list of objects (input name -> value)")
    raise InvalidInput(f"data: expected '{field}' (V2) or '{v1}' (V1)")


def parse_event(headers: Mapping[str, str], body: bytes) -> LoggedEvent:
    try:
        payload = json.loads(body) if body else None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"body: not valid JSON ({exc.msg})") from exc
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/cloudevents+json"):
        if not isinstance(payload, dict):
            raise InvalidInput("body: a structured CloudEvent must be a JSON object")
        attrs = {k.lower(): v for k, v in payload.items() if k != "data"}
        data = payload.get("data")
    else:
        attrs = {k[3:].lower(): v for k, v in headers.items() if k.lower().startswith("ce-")}
        data = payload
    kind = attrs.get("type")
    if kind not in (REQUEST_TYPE, RESPONSE_TYPE):
        raise InvalidInput(f"ce-type: expected '{REQUEST_TYPE}' or '{RESPONSE_TYPE}', got {kind!r}")
    if not attrs.get("id"):
        raise InvalidInput("ce-id: missing; KServe sets it to the request id")
    return LoggedEvent(
        type=kind,
        id=str(attrs["id"]),
        inference_service=attrs.get("inferenceservicename"),
        endpoint=attrs.get("endpoint") or attrs.get("component"),
        columns=_columns(kind, data),
    )
