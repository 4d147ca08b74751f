import mlflow
import mlflow.pyfunc
import pytest

from tests.runtime.modelserver.servers import start_server


@pytest.fixture(scope="session")
def own_model(fraud_registry):
    """The registered model loaded in-process: the reference every response is compared with."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(fraud_registry["tracking_uri"])
    try:
        return mlflow.pyfunc.load_model(fraud_registry["uri"])
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="session")
def batched_server(fraud_registry, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "batched.log"
    server = start_server(
        [
            "--model_name",
            "fraud",
            "--model_dir",
            fraud_registry["uri"],
            "--max_batch_size",
            "8",
            "--max_latency_ms",
            "5",
            "--max_body_bytes",
            "200000",
        ],
        log,
        env={"MLFLOW_TRACKING_URI": fraud_registry["tracking_uri"]},
    )
    yield server
    server.stop()
