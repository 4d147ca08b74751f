"""One call for training scripts: log a model with its lineage and register a version.

``register_model`` logs, in one MLflow run, the model with its signature and an input example,
the training data as an MLflow dataset input (source and digest), the git commit of the training
code, and the drift reference profile as the artifact ``reference_profile.json``; then it
registers a model version and optionally points an alias at it. The lock command
(``ml-serving lock``) reads exactly these records back.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.drift.profile import PROFILE_ARTIFACT_NAME, build_profile
from runtime.registry.errors import RegistrationError

__all__ = [
    "register_model",
    "RegisteredVersion",
    "RegistrationError",
    "git_commit",
    "start_registration",
    "finish_registration",
    "resolve_source",
    "GIT_COMMIT_TAG",
    "GIT_DIRTY_TAG",
    "PROFILE_ARTIFACT",
    "DATASET_SOURCE_TAG",
    "DATASET_CONTEXT",
    "PROJECT_TAG",
]

GIT_COMMIT_TAG = "mlflow.source.git.commit"
"""MLflow's own tag for the commit of the code that produced a run."""
GIT_DIRTY_TAG = "ml-serving.git.dirty"
"""``true`` when the training code had uncommitted changes."""
PROJECT_TAG = "ml-serving.project"
DATASET_SOURCE_TAG = "ml-serving.dataset.source"
"""Where a dataset came from, when MLflow has no source type for it (e.g. generated data)."""
PROFILE_ARTIFACT = PROFILE_ARTIFACT_NAME
DATASET_CONTEXT = "training"
MODEL_ARTIFACT = "model"


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: int
    run_id: str
    git_commit: str
    dataset_digest: str
    dataset_source: str
    artifact_uri: str
    alias: str | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def git_commit(code_path: Path | str) -> tuple[str, bool]:
    """The commit checked out at ``code_path`` and whether the tree has uncommitted changes.

    ``ML_SERVING_GIT_COMMIT`` wins (a build without ``.git``, e.g. in an image).
    """
    pinned = os.environ.get("ML_SERVING_GIT_COMMIT")
    if pinned:
        return pinned, False
    where = Path(code_path)
    where = where if where.is_dir() else where.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise RegistrationError(
            f"cannot read the git commit of the training code at {where}: {exc}; "
            "run the training script inside a git checkout or set ML_SERVING_GIT_COMMIT"
        ) from None
    return head, bool(status)


def resolve_source(source: str):
    """MLflow's own source type when it knows the scheme (paths, http, s3 ...), else a code source
    that records the description (e.g. a synthetic generator and its seed)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.exceptions import MlflowException

    try:
        return resolve_dataset_source(source)
    except MlflowException:
        return CodeDatasetSource(tags={DATASET_SOURCE_TAG: source})


def sklearn_requirements() -> list[str]:
    """What a scikit-learn version needs installed to be served, pinned to what trained it.
    Stated, not inferred: MLflow's inference loads the model in a fresh interpreter and records
    what it imported, 15-20 s a version here."""
    import mlflow

    return [*mlflow.sklearn.get_default_pip_requirements(include_skops=True), f"mlflow=={mlflow.__version__}"]


def _trusted_types(model: Any) -> list[str]:
    """The types skops must be told to trust to load ``model`` again.

    The estimator was fitted in this process, so its own types are trusted by construction; a
    file from elsewhere would still be audited when loaded.
    """
    import skops.io

    return sorted(set(skops.io.get_untrusted_types(data=skops.io.dumps(model))))


def register_model(
    model: Any,
    *,
    name: str,
    features: pd.DataFrame,
    target: pd.Series | None = None,
    dataset_source: str,
    dataset_name: str | None = None,
    alias: str | None = None,
    code_path: Path | str = ".",
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    profile_outputs: bool = True,
) -> RegisteredVersion:
    """Log ``model`` (a fitted scikit-learn estimator) with its lineage and register a version.

    ``features`` is the training input (one column per model input); ``target`` its labels.
    ``dataset_source`` says where the data came from (a path, URL or generator description);
    MLflow computes the digest from the data itself. ``profile_outputs=False`` profiles the inputs
    only, for outputs no drift test fits (e.g. ranked lists of item ids).
    """
    import mlflow

    if features.empty:
        raise RegistrationError(f"model '{name}': the training features are empty; expected at least one row")
    commit, tags = start_registration(name, code_path, experiment, tracking_uri)
    with warnings.catch_warnings():
        # Integer inputs are what these models take; MLflow's hint about missing values is advice.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
        dataset = _dataset(features, target, dataset_source, dataset_name or f"{name}-training")
        with mlflow.start_run(tags=tags) as run:
            model_uri = _log_run(model, features, dataset, params, metrics, profile_outputs)
    return finish_registration(name, model_uri, run.info.run_id, commit, dataset.digest, dataset_source, alias)


def start_registration(
    name: str, code_path: Path | str, experiment: str | None, tracking_uri: str | None
) -> tuple[str, dict[str, str]]:
    """The training code's commit and the run tags every registered version carries."""
    import mlflow

    commit, dirty = git_commit(code_path)
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment or name)
    return commit, {GIT_COMMIT_TAG: commit, GIT_DIRTY_TAG: str(dirty).lower(), PROJECT_TAG: "ml-serving"}


def finish_registration(
    name: str, model_uri: str, run_id: str, commit: str, digest: str, dataset_source: str, alias: str | None
) -> RegisteredVersion:
    """Register the logged model as a version (and point ``alias`` at it)."""
    import mlflow

    client = mlflow.MlflowClient()
    version = mlflow.register_model(model_uri, name, tags={GIT_COMMIT_TAG: commit})
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    return RegisteredVersion(
        name=name,
        version=int(version.version),
        run_id=run_id,
        git_commit=commit,
        dataset_digest=digest,
        dataset_source=dataset_source,
        artifact_uri=client.get_model_version_download_uri(name, version.version),
        alias=alias,
    )


def _dataset(features: pd.DataFrame, target: pd.Series | None, source: str, name: str):
    import mlflow

    frame = features.copy()
    label = None
    if target is not None:
        label = str(target.name or "target")
        frame[label] = target.to_numpy()
    return mlflow.data.from_pandas(frame, source=resolve_source(source), name=name, targets=label)


def _log_run(
    model: Any, features: pd.DataFrame, dataset: Any, params: dict | None, metrics: dict | None, profile_outputs: bool
) -> str:
    """Log the dataset input, the reference profile and the model into the active run."""
    import mlflow
    from mlflow.models import infer_signature

    predictions = model.predict(features)
    mlflow.log_input(dataset, context=DATASET_CONTEXT)
    if params:
        mlflow.log_params(params)
    if metrics:
        mlflow.log_metrics(metrics)
    profile = build_profile(
        features, predictions if profile_outputs else None, metadata={"dataset_digest": dataset.digest}
    )
    mlflow.log_text(profile.to_json(), PROFILE_ARTIFACT)
    info = mlflow.sklearn.log_model(
        model,
        name=MODEL_ARTIFACT,
        signature=infer_signature(features, predictions),
        input_example=features.head(5),
        skops_trusted_types=_trusted_types(model),
        pip_requirements=sklearn_requirements(),
    )
    return info.model_uri
