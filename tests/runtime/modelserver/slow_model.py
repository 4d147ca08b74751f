"""A pyfunc model that takes its time, so requests are still queued when SIGTERM arrives."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
from mlflow.models import infer_signature


class SlowDouble(mlflow.pyfunc.PythonModel):
    def __init__(self, delay_s: float = 0.3) -> None:
        self.delay_s = delay_s

    def predict(self, context, model_input: pd.DataFrame, params=None):
        time.sleep(self.delay_s)
        return model_input["x"].to_numpy() * 2


def save_slow_model(path: Path, delay_s: float = 0.3) -> Path:
    """Save ``SlowDouble`` (``x`` in, ``2x`` out, ``delay_s`` a predict) as an MLflow model at ``path``."""
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's advice on input examples and pickling
        mlflow.pyfunc.save_model(
            str(path), python_model=SlowDouble(delay_s), signature=infer_signature(frame, frame["x"].to_numpy())
        )
    return path
