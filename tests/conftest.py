"""Fixtures shared across the test tree."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fraud_registry(tmp_path_factory) -> dict[str, str]:
    """One SQLite MLflow registry for the session with a small fraud forest registered in it:
    ``tracking_uri`` and the version's ``uri`` (``models:/fraud/1``). Making a registry runs
    MLflow's schema migrations, tens of seconds here, so the model server, gateway and
    dashboard tests share this one and only read from it."""
    import mlflow

    from tests.runtime.modelserver.servers import register_model

    root = tmp_path_factory.mktemp("mlflow")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    try:
        uri = register_model(tracking_uri, root / "artifacts")
    finally:
        mlflow.set_tracking_uri(previous)
    return {"tracking_uri": tracking_uri, "uri": uri}
