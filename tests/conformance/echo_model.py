"""A pyfunc model without a signature that answers each input back: every V2 datatype fits it.

Columns come back as outputs of the same names; a single tensor of two or more dimensions comes
back whole, as ``predict``.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        if isinstance(model_input, pd.DataFrame):
            return {str(column): model_input[column].to_numpy() for column in model_input.columns}
        return np.asarray(model_input)


def save_echo_model(path: Path) -> Path:
    """Save the echo model to ``path`` (a new folder) and return it."""
    mlflow.pyfunc.save_model(str(path), python_model=Echo())
    return path
