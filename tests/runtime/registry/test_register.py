"""register_model: what a registered version carries, read back from a real MLflow registry."""

from __future__ import annotations

import subprocess
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from examples.train_fraud import FEATURES, synthetic_transactions
from examples.train_fraud import main as train_main
from runtime.drift.profile import load_profile
from runtime.registry.register import GIT_COMMIT_TAG, PROFILE_ARTIFACT, RegistrationError, register_model

ROOT = Path(__file__).resolve().parents[3]


def test_version_carries_model_signature_dataset_commit_and_profile(registry):
    client = mlflow.MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)
    registered = registry.fraud[2]
    version = client.get_model_version("fraud", "2")
    assert version.run_id == registered.run_id
    run = client.get_run(version.run_id)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # The commit is the checkout's HEAD when the session registered it (it may have moved since).
    assert run.data.tags[GIT_COMMIT_TAG] == registered.git_commit
    assert (
        len(registered.git_commit) == 40
        and subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", registered.git_commit], check=False).returncode
        == 0
    ), f"{registered.git_commit} is not a commit of this repository (HEAD {head})"
    [dataset_input] = run.inputs.dataset_inputs
    assert dataset_input.dataset.digest == registered.dataset_digest
    assert "seed=102" in dataset_input.dataset.source

    features, _ = synthetic_transactions(400, 102)
    model = mlflow.pyfunc.load_model(client.get_model_version_download_uri("fraud", "2"))
    inputs = [spec.name for spec in model.metadata.get_input_schema().inputs]
    assert inputs == list(FEATURES)
    assert model.metadata.saved_input_example_info is not None
    predictions = model.predict(features.head(20))
    assert set(pd.Series(predictions).unique()) <= {0, 1}

    profile = load_profile(f"{run.info.artifact_uri}/{PROFILE_ARTIFACT}")
    assert sorted(profile.features) == sorted(FEATURES)
    assert profile.rows == 400
    assert profile.features["merchant_category"].kind == "categorical"


def test_alias_points_at_the_version_registered_with_it(registry):
    client = mlflow.MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)
    assert client.get_model_version_by_alias("fraud", "challenger").version == "3"
    assert registry.fraud[3].alias == "challenger"


def test_training_script_is_idempotent(registry, capsys):
    client = mlflow.MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)
    have = len(client.search_model_versions("name='fraud'"))
    assert have >= 3
    assert train_main(["--tracking-uri", registry.url, "--model-name", "fraud", "--versions", "3"]) == 0
    assert f"fraud: {have} versions registered already; nothing to do" in capsys.readouterr().out
    assert len(client.search_model_versions("name='fraud'")) == have


def test_training_code_outside_git_is_refused(registry, tmp_path, monkeypatch):
    monkeypatch.delenv("ML_SERVING_GIT_COMMIT", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    features, label = synthetic_transactions(60, 1)
    with pytest.raises(
        RegistrationError, match="cannot read the git commit of the training code .* set ML_SERVING_GIT_COMMIT"
    ):
        register_model(
            object(),
            name="fraud",
            features=features,
            target=label,
            dataset_source="x",
            code_path=tmp_path,
            tracking_uri=registry.url,
        )


def test_empty_training_data_is_refused(registry):
    with pytest.raises(RegistrationError, match="model 'fraud': the training features are empty"):
        register_model(object(), name="fraud", features=pd.DataFrame(), dataset_source="x", tracking_uri=registry.url)


def test_recommender_version_takes_a_user_and_gives_ranked_items_with_an_input_profile(registry):
    from examples.train_recommender import register_one as register_recommender

    registered = register_recommender("recommender-als-test", "als", world_seed=0, seed=1)
    client = mlflow.MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)
    model = mlflow.pyfunc.load_model(client.get_model_version_download_uri(registered.name, str(registered.version)))
    inputs = {spec.name: spec.required for spec in model.metadata.get_input_schema().inputs}
    assert inputs == {"user_id": True, "context": False}
    outputs = {spec.name: spec.shape for spec in model.metadata.get_output_schema().inputs}
    assert outputs == {"items": (-1, 10), "scores": (-1, 10)}
    answer = model.predict(pd.DataFrame({"user_id": [3, 4], "context": ["web", None]}))
    assert answer["items"].shape == (2, 10)
    run = client.get_run(registered.run_id)
    assert run.data.params["algorithm"] == "als" and float(run.data.metrics["expected_conversion"]) > 0.1
    profile = load_profile(f"{run.info.artifact_uri}/{PROFILE_ARTIFACT}")
    assert sorted(profile.features) == ["context", "user_id"] and profile.predictions == {}
    assert profile.features["context"].kind == "categorical"
