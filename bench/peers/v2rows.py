"""The V2 body the benchmark sends, read and answered by the peer servers (their own virtualenvs).

Every peer takes the same single-row V2 JSON request as our model server and answers V2 JSON
with the same predictions, so the benchmark's wire format and model call are the same for all:
``mlflow.pyfunc`` on a ``pandas`` frame of the rows. Standard library, pandas and mlflow only.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["one_row", "frame", "answer", "load"]


class BadRequest(ValueError):
    """A body the benchmark peers do not take; the message names the field."""


def one_row(body: Any) -> dict[str, float]:
    """The request's single row, column by column; one row per request is what the bench sends."""
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("'inputs' must be a non-empty list of V2 tensors")
    row = {}
    for tensor in inputs:
        data = tensor.get("data") if isinstance(tensor, dict) else None
        if tensor.get("shape") != [1] or not isinstance(data, list) or len(data) != 1:
            raise BadRequest(f"input '{tensor.get('name')}' must have shape [1] and one value")
        row[str(tensor["name"])] = float(data[0])
    return row


def frame(rows: list[dict[str, float]]) -> pd.DataFrame:
    """The rows of several requests as one frame, in order (the batch the model sees)."""
    return pd.DataFrame.from_records(rows)


def answer(model: str, prediction: Any) -> dict[str, Any]:
    """One request's V2 response for its one predicted value."""
    value = prediction.item() if hasattr(prediction, "item") else prediction
    return {"model_name": model, "outputs": [{"name": "predict", "shape": [1], "datatype": "INT64", "data": [value]}]}


def load(model_dir: str) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(model_dir)
