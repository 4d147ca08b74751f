"""A V2 REST request body, plain JSON or with binary tensors, as one checked ``InferenceRequest``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.protocol.binary import OutputChoice, read_binary_inputs, split_header
from runtime.protocol.codec import parse_request
from runtime.protocol.types import InferenceRequest

__all__ = ["RestRequest", "read_request"]


@dataclass(frozen=True, slots=True)
class RestRequest:
    request: InferenceRequest
    """Inputs sent as binary hold flat numpy arrays as ``data``; the others JSON lists."""
    document: dict[str, Any]
    """The JSON (header) as sent."""
    outputs: OutputChoice
    """Which outputs the client wants back as binary."""
    binary: bool
    """Whether the body carried binary tensors after a JSON header."""


def read_request(body: bytes, header_length: str | None = None) -> RestRequest:
    """Parse a request; ``header_length`` is the ``Inference-Header-Content-Length`` header."""
    if header_length is None:
        request = parse_request(body)
        document: Any = None
        choice = _choice(request)
        return RestRequest(request, document, choice, False)
    document, tail = split_header(body, header_length)
    arrays = read_binary_inputs(document, tail) if isinstance(document, dict) else {}
    if arrays:
        # Validated with empty data in place of the raw tensors, which were checked on their own.
        inputs = [{**tensor, "data": []} if i in arrays else tensor for i, tensor in enumerate(document["inputs"])]
        request = parse_request({**document, "inputs": inputs})
        for i, array in arrays.items():
            inp = request.inputs[i]
            inp.data = array  # type: ignore[assignment]
            params = {k: v for k, v in (inp.parameters or {}).items() if k != "binary_data_size"}
            inp.parameters = params or None
    else:
        request = parse_request(document)
    return RestRequest(request, document, OutputChoice.of(document), True)


def _choice(request: InferenceRequest) -> OutputChoice:
    document = {
        "parameters": request.parameters,
        "outputs": [{"name": o.name, "parameters": o.parameters} for o in request.outputs or ()],
    }
    return OutputChoice.of(document)
