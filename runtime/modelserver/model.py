"""One MLflow pyfunc model as a KServe model, served over V2 with optional adaptive batching."""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import orjson
import pandas as pd
from grpc_interceptor.exceptions import GrpcException
from kserve import InferOutput, InferRequest, InferResponse, Model

from runtime.batching import AdaptiveBatcher, Unbatched
from runtime.errors import InvalidInput, MLServingError, ModelNotFound
from runtime.modelserver.errors import PredictionFailed
from runtime.modelserver.images import ImageServing
from runtime.modelserver.signature import Signature, from_mlflow, sample_payload
from runtime.protocol import (
    InferenceRequest,
    InferenceResponse,
    build_response,
    decode_column_arrays,
    decode_inputs,
    decode_tensor,
    encode_predictions,
    parse_request,
)
from runtime.protocol.deadline import TIMEOUT_HEADER, header_timeout_s, parameter_timeout_s, sooner
from runtime.protocol.grpc_status import grpc_code
from runtime.protocol.rest import read_request
from runtime.spec import parse_model_uri
from runtime.vision.classifier import MODEL_KIND as IMAGE_MODEL

__all__ = ["GRPC_DEADLINE", "MLflowModel", "PredictionFailed", "columns_frame", "resolve_model_dir"]

log = logging.getLogger(__name__)

GRPC_DEADLINE: ContextVar[float | None] = ContextVar("grpc_deadline", default=None)
"""The gRPC call's own deadline (monotonic), set by the server's servicer for the call it
answers: KServe's servicer hands the model the call's metadata but not its deadline."""


def resolve_model_dir(model_dir: str) -> tuple[str, str | None]:
    """What ``mlflow.pyfunc.load_model`` loads for ``model_dir``, and the version when known.

    ``models:/<name>/<version>`` and ``models:/<name>@<alias>`` go through the tracking server
    (``MLFLOW_TRACKING_URI``); a folder holds an ``MLmodel`` file itself or in exactly one
    subfolder, as KServe's storage initializer may leave it under ``/mnt/models``.
    """
    if model_dir.startswith("models:/"):
        uri = parse_model_uri(model_dir)
        if uri.version is not None:
            return model_dir, str(uri.version)
        version = mlflow.MlflowClient().get_model_version_by_alias(uri.name, uri.alias).version
        return f"models:/{uri.name}/{version}", str(version)
    path = Path(model_dir)
    if (path / "MLmodel").is_file():
        return str(path), None
    found = sorted(p.parent for p in path.glob("*/MLmodel"))
    if len(found) == 1:
        return str(found[0]), None
    raise ModelNotFound.no_mlflow_model(model_dir, len(found))


class MLflowModel(Model):
    def __init__(
        self, name: str, model_dir: str, max_batch_size: int | None = None, max_latency_ms: float | None = None
    ) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.max_batch_size = max_batch_size
        self.max_latency_ms = max_latency_ms
        self.version: str | None = None
        self.signature = Signature(inputs=(), tensor=False, outputs=())
        self._pyfunc: Any = None
        self._predictor: AdaptiveBatcher | Unbatched | None = None
        self.images: ImageServing | None = None
        """The image path, for a model logged as an image classifier."""

    def load(self) -> bool:
        """Load the model, then warm it up; only then is it ready."""
        uri, self.version = resolve_model_dir(self.model_dir)
        started = time.monotonic()
        self._pyfunc = mlflow.pyfunc.load_model(uri)
        log.info("loaded %s from %s in %.1f s", self.name, uri, time.monotonic() - started)
        if (self._pyfunc.metadata.metadata or {}).get("ml_serving.kind") == IMAGE_MODEL:
            self.images = ImageServing(
                self.name, self._pyfunc.unwrap_python_model(), self.max_batch_size, self.max_latency_ms
            )
            self.signature = Signature(inputs=self.images.inputs(), tensor=False, outputs=self.images.outputs())
            self.images.warm_up()
            self._predictor = self.images.predictor
            log.info("serving %s on %s", self.name, self.images.parameters()["device"])
            self.ready = True
            return self.ready
        self.signature = from_mlflow(self._pyfunc.metadata.signature)
        self._warm_up()
        if self.max_batch_size:
            self._predictor = AdaptiveBatcher(
                self._predict_rows,
                max_batch_size=self.max_batch_size,
                max_latency_ms=self.max_latency_ms or 10,
                model=self.name,
            )
        else:
            self._predictor = Unbatched(self._predict_rows, model=self.name)
        self.ready = True
        return self.ready

    def _warm_up(self) -> None:
        if not self.signature.inputs:
            log.info("no signature: skipping warm-up of %s", self.name)
            return
        for rows in sorted({1, self.max_batch_size or 1}):
            payload, _ = self.decode(parse_request(sample_payload(self.signature, rows)))
            self._predict_rows(payload)
        log.info("warmed up %s", self.name)

    def _predict_rows(self, payload: Any) -> Any:
        # Runs in the predict thread: the DataFrame is built there, once per batch.
        if isinstance(payload, dict):
            payload = columns_frame(payload)
        return self._pyfunc.predict(payload)

    def get_input_types(self) -> list[dict]:
        return self.signature.input_metadata()

    def get_output_types(self) -> list[dict]:
        return self.signature.output_metadata()

    def parameters(self) -> dict[str, Any]:
        """What the model metadata adds to the V2 fields: device, precision, preprocessing (images)."""
        return self.images.parameters() if self.images is not None else {}

    def decode(self, request: InferenceRequest) -> tuple[Any, int]:
        """The model input of a request and its rows, checked against the signature."""
        specs = self.signature.inputs
        if self.signature.tensor:
            array = decode_tensor(request, specs[0])
            return array, len(array)
        if specs:
            columns = decode_column_arrays(request, specs)
            return columns, len(next(iter(columns.values())))
        arrays = decode_inputs(request)
        if len(arrays) == 1 and next(iter(arrays.values())).ndim >= 2:
            array = next(iter(arrays.values()))
            return array, len(array)
        rows = {name: len(a) for name, a in arrays.items()}
        if len(set(rows.values())) != 1 or any(
            a.ndim > 2 or (a.ndim == 2 and a.shape[1] != 1) for a in arrays.values()
        ):
            raise InvalidInput(f"inputs must be columns of the same number of rows; got rows {rows}")
        return pd.DataFrame({name: a.reshape(len(a)) for name, a in arrays.items()}), next(iter(rows.values()))

    async def infer(self, request: InferenceRequest, deadline: float | None = None) -> InferenceResponse:
        """Answer one V2 request: decode, predict (batched with others when enabled), encode.
        ``deadline`` (monotonic): when the caller stops waiting, as the gateway's header says;
        the request's own ``parameters.timeout`` counts too, the sooner of the two. A request
        still queued then is not predicted (``RequestTimedOut``, 503)."""
        if self._predictor is None:
            raise ModelNotFound.not_loaded(self.name)
        timeout_s = parameter_timeout_s(request.parameters)
        if timeout_s is not None:
            deadline = sooner(deadline, time.monotonic() + timeout_s)
        try:
            if self.images is not None:
                prediction = await self.images.predict(request, deadline)
            else:
                payload, rows = self.decode(request)
                prediction = await self._predictor.predict(payload, rows, deadline)
        except MLServingError:
            raise
        except Exception as exc:
            raise PredictionFailed(f"model '{self.name}' failed to predict: {type(exc).__name__}: {exc}") from exc
        outputs = _requested(encode_predictions(_rows_first(prediction), self.signature.output_names), request)
        return build_response(self.name, outputs, request.id, self.version, request.parameters)

    async def predict(
        self, payload: InferRequest, headers: dict | None = None, response_headers: dict | None = None
    ) -> InferResponse:
        """KServe's own data plane entry (its gRPC server) reaches the same path and checks.

        The caller's time counts as over REST: the call's gRPC deadline, the gateway's
        ``x-ml-serving-timeout-ms`` as metadata, and ``parameters.timeout``, the soonest of them.

        Raw gRPC tensors come through KServe's ``to_rest`` as a binary REST body and are read by
        the project's binary decoder; errors leave as the gRPC status their HTTP status maps to.
        """
        try:
            deadline = sooner(GRPC_DEADLINE.get(), _header_deadline(headers))
            response = await self.infer(_from_kserve(payload), deadline)
        except MLServingError as exc:
            raise GrpcException(exc.message, grpc_code(int(exc.status))) from None
        document = response.model_dump(exclude_none=True)
        outputs = [
            InferOutput(
                name=o["name"], shape=o["shape"], datatype=o["datatype"], data=o["data"], parameters=o.get("parameters")
            )
            for o in document["outputs"]
        ]
        # Raw outputs, as Triton sends them: tritonclient.grpc reads no typed contents but BYTES.
        return InferResponse(
            document.get("id"),
            document["model_name"],
            outputs,
            document.get("model_version"),
            parameters=document.get("parameters"),
            use_binary_outputs=True,
        )

    async def drain(self) -> None:
        """Refuse new requests and finish the queued ones."""
        if self.images is not None:
            await self.images.close()
        elif self._predictor is not None:
            await self._predictor.close()
        self.ready = False


def columns_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A batch's columns (1-D arrays by name) as the model's DataFrame.

    Columns of one numeric or boolean dtype become one 2-D block: pandas builds that in about
    a third of the time it takes for a block per column, and the model reads it back as one
    array without copying the columns together again. Columns of mixed dtypes keep a block each.
    """
    arrays = list(columns.values())
    dtype = arrays[0].dtype if arrays else None
    if dtype is not None and dtype.kind in "biuf" and all(a.dtype == dtype for a in arrays):
        return pd.DataFrame(np.column_stack(arrays), columns=list(columns), copy=False)
    return pd.DataFrame(columns, copy=False)


def _header_deadline(headers: dict | None) -> float | None:
    timeout_s = header_timeout_s(headers.get(TIMEOUT_HEADER)) if headers else None
    return None if timeout_s is None else time.monotonic() + timeout_s


def _requested(outputs: list, request: InferenceRequest) -> list:
    """The outputs the request names, in its order; all of them when it names none."""
    if not request.outputs:
        return outputs
    by_name = {o.name: o for o in outputs}
    missing = [o.name for o in request.outputs if o.name not in by_name]
    if missing:
        raise InvalidInput(
            f"Output '{missing[0]}' is not an output of this model; outputs are: {', '.join(by_name) or 'none'}"
        )
    return [by_name[o.name] for o in request.outputs]


def _from_kserve(payload: InferRequest) -> InferenceRequest:
    body, header_length = payload.to_rest()
    if isinstance(body, dict):
        return parse_request(body)
    # KServe 0.16 appends raw gRPC tensors after the header without saying how long each is.
    header = orjson.loads(body[:header_length])
    for tensor, inp in zip(header.get("inputs") or (), payload.inputs):
        if "data" not in tensor:
            size = len(inp._raw_data or b"")
            tensor["parameters"] = {**(tensor.get("parameters") or {}), "binary_data_size": size}
    head = orjson.dumps(header)
    return read_request(head + body[header_length:], str(len(head))).request


def _rows_first(prediction: Any) -> Any:
    if isinstance(prediction, list):
        return np.asarray(prediction)
    return prediction
