import mlflow
import mlflow.pyfunc
import pytest

from tests.mlflow_state import mlflow_state
from tests.runtime.modelserver.servers import start_server


@pytest.fixture(scope="session")
def own_model(fraud_registry):
    """The registered model loaded in-process: the reference every response is compared with."""
    with mlflow_state(fraud_registry["tracking_uri"]):
        return mlflow.pyfunc.load_model(fraud_registry["uri"])


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
