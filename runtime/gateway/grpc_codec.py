"""gRPC V2 messages (the Open Inference Protocol's proto, as KServe ships it) to and from the core.

A ``ModelInferRequest`` becomes the same binary REST body a REST client could have sent, so it
meets the same checks (runtime/gateway/payload.py) and goes to the model server unchanged; its
raw tensors come as views of the received message (runtime/gateway/grpc_wire.py) and are copied
once, into that body. Answers go back as ``raw_output_contents``, as Triton's server sends them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

from runtime.errors import InvalidInput
from runtime.gateway.grpc_wire import WireInferRequest
from runtime.gateway.payload import Inbound, parse_v2
from runtime.protocol.binary import array_to_raw
from runtime.protocol.datatypes import DATATYPES

__all__ = ["inbound_of", "infer_response", "metadata_response", "parameters_of"]

_CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def parameters_of(parameters: Any) -> dict[str, Any]:
    """A protobuf map of ``InferParameter`` as plain values."""
    out = {}
    for key, value in parameters.items():
        choice = value.WhichOneof("parameter_choice")
        if choice is not None:
            out[key] = getattr(value, choice)
    return out


def _parameter(value: Any) -> pb.InferParameter:
    if isinstance(value, bool):
        return pb.InferParameter(bool_param=value)
    if isinstance(value, int):
        return pb.InferParameter(int64_param=value)
    return pb.InferParameter(string_param=str(value))


def _raw(i: int, tensor: Any, raw: list[memoryview] | list[bytes]) -> memoryview | bytes:
    if raw:
        return raw[i]
    field = _CONTENTS.get(tensor.datatype)
    if field is None:
        if tensor.datatype in DATATYPES:
            raise InvalidInput(
                f"Input '{tensor.name}': {tensor.datatype} has no typed contents; send it in raw_input_contents"
            )
        return b""  # the unknown datatype is named by the codec
    values = list(getattr(tensor.contents, field))
    return array_to_raw(tensor.datatype, np.array(values, dtype=object) if tensor.datatype == "BYTES" else values)


def inbound_of(wire: WireInferRequest) -> Inbound:
    """The request as the core's ``Inbound``; bad input raises ``InvalidInput`` naming the field."""
    request, raw = wire.message, wire.raw
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs; send one per input or none"
        )
    inputs: list[dict[str, Any]] = []
    tails: list[memoryview | bytes] = []
    for i, tensor in enumerate(request.inputs):
        data = _raw(i, tensor, raw)
        tails.append(data)
        parameters = {**parameters_of(tensor.parameters), "binary_data_size": len(data)}
        inputs.append(
            {"name": tensor.name, "shape": list(tensor.shape), "datatype": tensor.datatype, "parameters": parameters}
        )
    document: dict[str, Any] = {"inputs": inputs}
    if request.id:
        document["id"] = request.id
    if request.parameters:
        document["parameters"] = parameters_of(request.parameters)
    if request.outputs:
        document["outputs"] = [
            {"name": o.name, **({"parameters": parameters_of(o.parameters)} if o.parameters else {})}
            for o in request.outputs
        ]
    head = orjson.dumps(document)
    return parse_v2(b"".join([head, *tails]), str(len(head)))


def infer_response(response: dict[str, Any], request_id: str) -> pb.ModelInferResponse:
    outputs, raws = [], []
    for output in response.get("outputs") or ():
        raws.append(array_to_raw(output["datatype"], output.get("data") or []))
        tensor = pb.ModelInferResponse.InferOutputTensor(
            name=output["name"], datatype=output["datatype"], shape=output["shape"]
        )
        for key, value in (output.get("parameters") or {}).items():
            tensor.parameters[key].CopyFrom(_parameter(value))
        outputs.append(tensor)
    message = pb.ModelInferResponse(
        model_name=str(response.get("model_name") or ""),
        model_version=str(response.get("model_version") or ""),
        id=str(response.get("id") or request_id),
        outputs=outputs,
        raw_output_contents=raws,
    )
    for key, value in (response.get("parameters") or {}).items():
        message.parameters[key].CopyFrom(_parameter(value))
    return message


def metadata_response(document: dict[str, Any]) -> pb.ModelMetadataResponse:
    def tensors(items: Any) -> list[pb.ModelMetadataResponse.TensorMetadata]:
        return [
            pb.ModelMetadataResponse.TensorMetadata(
                name=str(t.get("name")), datatype=str(t.get("datatype")), shape=list(t.get("shape") or [])
            )
            for t in items or ()
            if isinstance(t, dict)
        ]

    return pb.ModelMetadataResponse(
        name=document["name"],
        versions=[str(v) for v in document.get("versions") or ()],
        platform=str(document.get("platform") or ""),
        inputs=tensors(document.get("inputs")),
        outputs=tensors(document.get("outputs")),
    )
