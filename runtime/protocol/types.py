"""Open Inference Protocol (V2) REST messages as pydantic models.

Field names follow the protocol (``model_name``, ``datatype``); unknown keys are rejected so a
misspelt field fails loudly instead of being ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Parameters",
    "RequestInput",
    "RequestOutput",
    "InferenceRequest",
    "ResponseOutput",
    "InferenceResponse",
    "TensorMetadata",
    "ModelMetadata",
]

Parameters = dict[str, Any]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class RequestInput(_Message):
    name: str = Field(min_length=1)
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any]
    """Row-major, flat or nested to the tensor's shape."""


class RequestOutput(_Message):
    name: str = Field(min_length=1)
    parameters: Parameters | None = None


class InferenceRequest(_Message):
    model_name: str | None = None
    """Sent by KServe's clients; the path names the model, so this is accepted and not used."""
    model_version: str | None = None
    """As ``model_name``: accepted from clients that send it, not used."""
    id: str | None = None
    parameters: Parameters | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class ResponseOutput(_Message):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any]
    """Row-major and flat."""


class InferenceResponse(_Message):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


class TensorMetadata(_Message):
    name: str
    datatype: str
    shape: list[int]
    """``-1`` marks a variable dimension (the rows)."""


class ModelMetadata(_Message):
    name: str
    versions: list[str] | None = None
    platform: str
    inputs: list[TensorMetadata] = []
    outputs: list[TensorMetadata] = []
