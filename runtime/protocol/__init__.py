"""The Open Inference Protocol (V2): messages, datatypes and the codec."""

from runtime.protocol.codec import (
    DEFAULT_OUTPUT,
    InputSpec,
    build_response,
    decode_column_arrays,
    decode_columns,
    decode_input,
    decode_inputs,
    decode_tensor,
    encode_array,
    encode_predictions,
    error_body,
    flatten,
    parse_request,
)
from runtime.protocol.datatypes import DATATYPES, accepts, datatype_of, to_dtype
from runtime.protocol.types import (
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    RequestInput,
    RequestOutput,
    ResponseOutput,
    TensorMetadata,
)

__all__ = [
    "InferenceRequest",
    "InferenceResponse",
    "RequestInput",
    "RequestOutput",
    "ResponseOutput",
    "ModelMetadata",
    "TensorMetadata",
    "InputSpec",
    "DATATYPES",
    "DEFAULT_OUTPUT",
    "to_dtype",
    "datatype_of",
    "accepts",
    "parse_request",
    "decode_input",
    "decode_inputs",
    "decode_columns",
    "decode_column_arrays",
    "decode_tensor",
    "encode_array",
    "encode_predictions",
    "build_response",
    "error_body",
    "flatten",
]
