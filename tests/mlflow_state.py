"""MLflow's process-global state, put back: the tracking URI and the active experiment.

MLflow keeps both in module globals and mirrors them into ``MLFLOW_TRACKING_URI`` and
``MLFLOW_EXPERIMENT_ID``. A test or fixture that sets either (``set_tracking_uri``,
``set_experiment``, and ``register_model`` through it) would leave it to every later test in its
worker, and the workers take files in no fixed order: a test that resolves ``mlflow-artifacts:/``
against the global URI, or starts a run by id in another experiment, then fails by file order.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")


def _modules() -> tuple[Any, Any] | None:
    """MLflow's modules that hold the tracking URI and the active experiment, or None before
    MLflow is imported (then neither is set)."""
    if "mlflow.tracking.fluent" not in sys.modules:
        return None
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    return utils, fluent


@contextmanager
def mlflow_state(tracking_uri: str | None = None) -> Iterator[None]:
    """Put back the tracking URI, the active experiment and their environment variables as they
    were when the block began; with ``tracking_uri``, track against it meanwhile."""
    modules = _modules()
    held = (modules[0]._tracking_uri, modules[1]._active_experiment_id) if modules else (None, None)
    env = {key: os.environ.get(key) for key in ENV}
    if tracking_uri is not None:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
    try:
        yield
    finally:
        modules = _modules()
        if modules is not None:
            modules[0]._tracking_uri, modules[1]._active_experiment_id = held
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
