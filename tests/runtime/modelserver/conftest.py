import mlflow
import mlflow.pyfunc
import pytest

from tests.runtime.modelserver.servers import register_model, start_server


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    uri = register_model(tracking_uri, root / "artifacts")
    mlflow.set_tracking_uri(previous)
    return {"tracking_uri": tracking_uri, "uri": uri}


@pytest.fixture(scope="session")
def own_model(registry):
    """The registered model loaded in-process: the reference every response is compared with."""
    mlflow.set_tracking_uri(registry["tracking_uri"])
    return mlflow.pyfunc.load_model(registry["uri"])


@pytest.fixture(scope="session")
def batched_server(registry, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "batched.log"
    server = start_server(
        [
            "--model_name",
            "fraud",
            "--model_dir",
            registry["uri"],
            "--max_batch_size",
            "8",
            "--max_latency_ms",
            "5",
            "--max_body_bytes",
            "200000",
        ],
        log,
        env={"MLFLOW_TRACKING_URI": registry["tracking_uri"]},
    )
    yield server
    server.stop()
