"""What each local part is started with."""

from __future__ import annotations

from runtime.local.layout import Layout, LocalSettings
from runtime.local.parts import model_server_part
from runtime.spec import load_stack


def test_model_servers_talk_to_the_local_registry_failing_fast_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    layout = Layout.resolve(load_stack("local"), LocalSettings(state_dir=tmp_path))
    parts = [model_server_part(layout, slot) for slot in layout.slots]
    assert parts
    for part in parts:
        assert part.env["MLFLOW_TRACKING_URI"] == layout.tracking_uri
        # MLflow's defaults retry a down registry for minutes, past the part's readiness deadline.
        assert (part.env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"], part.env["MLFLOW_HTTP_REQUEST_TIMEOUT"]) == ("2", "30")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    assert model_server_part(layout, layout.slots[0]).env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"


def test_model_servers_predict_on_one_thread_each(tmp_path):
    """The machine's cores are shared by every part; more OpenMP threads wait for each other."""
    layout = Layout.resolve(load_stack("local"), LocalSettings(state_dir=tmp_path))
    for slot in layout.slots:
        argv = list(model_server_part(layout, slot).argv)
        assert argv[argv.index("--predict_threads") + 1] == "1", argv
