"""The tests' guard on MLflow's process-global state puts back what a block changed."""

from __future__ import annotations

import os

import mlflow
from mlflow.tracking import fluent
from mlflow.tracking._tracking_service import utils

from tests.mlflow_state import mlflow_state


def test_tracking_uri_active_experiment_and_their_variables_come_back(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setattr(utils, "_tracking_uri", None)
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with mlflow_state(uri):
        assert mlflow.get_tracking_uri() == uri
        experiment = mlflow.set_experiment("state").experiment_id
        assert os.environ["MLFLOW_EXPERIMENT_ID"] == experiment
        assert os.environ["MLFLOW_TRACKING_URI"] == uri
    assert (utils._tracking_uri, fluent._active_experiment_id) == (None, None)
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_EXPERIMENT_ID" not in os.environ

    # Nested: the inner block puts back the outer block's URI and experiment (one database, as
    # each new one costs MLflow's migrations).
    with mlflow_state(uri):
        outer = mlflow.set_experiment("outer").experiment_id
        with mlflow_state():
            mlflow.set_experiment("inner")
            mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'other.db'}")
        assert (mlflow.get_tracking_uri(), fluent._active_experiment_id) == (uri, outer)
        assert os.environ["MLFLOW_EXPERIMENT_ID"] == outer
