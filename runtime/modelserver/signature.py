"""An MLflow model signature as V2 input specs and metadata tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, Schema, TensorSpec

from runtime.protocol import DEFAULT_OUTPUT, InputSpec, TensorMetadata, datatype_of

__all__ = ["Signature", "from_mlflow", "sample_payload"]

_COLUMN_DATATYPES = {
    "boolean": "BOOL",
    "integer": "INT32",
    "long": "INT64",
    "float": "FP32",
    "double": "FP64",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}


@dataclass(frozen=True)
class Signature:
    inputs: tuple[InputSpec, ...]
    """Declared inputs; empty when the model was logged without a signature."""
    tensor: bool
    """The model takes one tensor (an array) rather than named columns (a DataFrame)."""
    outputs: tuple[TensorMetadata, ...]

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)

    def input_metadata(self) -> list[dict]:
        return [TensorMetadata(name=s.name, datatype=s.datatype, shape=list(s.shape)).model_dump() for s in self.inputs]

    def output_metadata(self) -> list[dict]:
        return [o.model_dump() for o in self.outputs]


def _specs(schema: Schema | None) -> tuple[list[InputSpec], bool]:
    if schema is None:
        return [], False
    specs = []
    for i, item in enumerate(schema.inputs):
        if isinstance(item, TensorSpec):
            name = item.name or f"input-{i}"
            specs.append(InputSpec(name, datatype_of(item.type), tuple(item.shape), optional=not item.required))
        elif isinstance(item, ColSpec):
            name = item.name or f"input-{i}"
            datatype = _COLUMN_DATATYPES.get(getattr(item.type, "name", ""), "BYTES")
            specs.append(InputSpec(name, datatype, (-1,), optional=not item.required))
        else:
            raise ValueError(f"unsupported signature element {item!r}: only columns and tensors map to the V2 protocol")
    return specs, schema.is_tensor_spec()


def _outputs(schema: Schema | None) -> tuple[TensorMetadata, ...]:
    if schema is None:
        return ()
    items = schema.inputs
    outputs = []
    for i, item in enumerate(items):
        name = item.name or (DEFAULT_OUTPUT if len(items) == 1 else f"output-{i}")
        if isinstance(item, TensorSpec):
            outputs.append(TensorMetadata(name=name, datatype=datatype_of(item.type), shape=list(item.shape)))
        else:
            outputs.append(
                TensorMetadata(
                    name=name, datatype=_COLUMN_DATATYPES.get(getattr(item.type, "name", ""), "BYTES"), shape=[-1]
                )
            )
    return tuple(outputs)


def from_mlflow(signature: ModelSignature | None) -> Signature:
    inputs, tensor = _specs(signature.inputs if signature else None)
    return Signature(inputs=tuple(inputs), tensor=tensor, outputs=_outputs(signature.outputs if signature else None))


def sample_payload(signature: Signature, rows: int) -> dict:
    """A valid V2 request body of ``rows`` rows (zeros, false, empty strings), for warm-up."""
    inputs = []
    for spec in signature.inputs:
        shape = [rows, *(max(d, 1) for d in spec.shape[1:])]
        size = int(np.prod(shape))
        value = {"BOOL": False, "BYTES": ""}.get(spec.datatype, 0)
        inputs.append({"name": spec.name, "datatype": spec.datatype, "shape": shape, "data": [value] * size})
    return {"id": "warm-up", "inputs": inputs}
