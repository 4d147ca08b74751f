"""A pyfunc model that takes its time, so requests are still queued when SIGTERM arrives."""

from __future__ import annotations

import time

import mlflow.pyfunc
import pandas as pd


class SlowDouble(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: pd.DataFrame, params=None):
        time.sleep(0.3)
        return model_input["x"].to_numpy() * 2
