"""An image classifier registered with lineage: signature, weights, dataset digest, image profile."""

import mlflow

from runtime.drift.profile import load_profile
from runtime.vision.stats import STAT_NAMES
from tests.mlflow_state import mlflow_state
from tests.vision_model import registered


def test_the_version_carries_signature_dataset_commit_and_an_image_profile():
    model = registered()
    client = mlflow.MlflowClient(tracking_uri=model["tracking_uri"])
    run = client.get_run(model["run_id"])
    assert len(run.data.tags["mlflow.source.git.commit"]) == 40
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.digest and "sklearn://datasets.load_digits" in dataset.dataset.source
    with mlflow_state(model["tracking_uri"]):
        info = mlflow.models.get_model_info(model["uri"])
    assert info.metadata == {"ml_serving.kind": "image-classifier"}
    assert info.signature.inputs.input_names() == ["image"]
    assert info.signature.outputs.input_names() == ["class", "scores"]
    profile = load_profile(client.download_artifacts(model["run_id"], "reference_profile.json"))
    assert profile.metadata["ml_serving.image_input"] == "image"
    assert set(profile.features) == {*STAT_NAMES, "decode_failed"}
    assert profile.features["decode_failed"].counts == {"0": 300}
    assert set(profile.predictions["class"].counts) <= {str(d) for d in range(10)}
    assert 20 <= profile.features["width"].min < profile.features["width"].max <= 146
    assert profile.features["aspect"].min >= 0.99  # landscape, as a camera takes them


def test_the_training_script_registers_until_n_versions_and_enforces_its_accuracy(tmp_path, capsys, monkeypatch):
    from examples.train_vision import main

    monkeypatch.chdir(tmp_path)  # the SQLite store keeps artifacts in ./mlruns

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with mlflow_state():
        assert main(["--tracking-uri", uri, "--versions", "1", "--epochs", "1", "--min-accuracy", "1.01"]) == 2
        assert "held-out accuracy" in capsys.readouterr().err
        assert main(["--tracking-uri", uri, "--versions", "1", "--epochs", "2", "--min-accuracy", "0"]) == 0
        out = capsys.readouterr().out
        assert "registered models:/vision/1" in out and "held-out accuracy" in out
        assert main(["--tracking-uri", uri, "--versions", "1"]) == 0
        assert "1 versions registered already; nothing to do" in capsys.readouterr().out
