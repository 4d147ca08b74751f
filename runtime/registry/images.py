"""Register an image classifier with the same lineage as a tabular model.

The version is an MLflow pyfunc model (``runtime.vision.classifier.ImageClassifier``) whose
weights are an artifact; its signature says images in (a binary column ``image``) and class and
scores out. The training dataset's digest covers every image's bytes and label; the drift
reference profile holds the images' statistics (``runtime.vision.stats``) and the predicted
classes, which is what the monitor compares live images with.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runtime.drift.profile import PROFILE_ARTIFACT_NAME, build_profile
from runtime.registry.register import (
    DATASET_CONTEXT,
    MODEL_ARTIFACT,
    RegisteredVersion,
    RegistrationError,
    finish_registration,
    resolve_source,
    start_registration,
)

__all__ = ["register_image_model", "image_frame", "IMAGE_PROFILE_INPUT"]

from runtime.drift.images import IMAGE_INPUT_KEY as IMAGE_PROFILE_INPUT  # noqa: E402


def image_frame(images: list) -> pd.DataFrame:
    """One row of image statistics per image, as the drift monitor computes them live."""
    from runtime.drift.images import stats_frame

    return stats_frame(images)


def _content_digest(value: Any) -> str:
    raw = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else np.ascontiguousarray(value).tobytes()
    return hashlib.sha256(raw).hexdigest()[:16]


def register_image_model(
    model: Any,
    *,
    name: str,
    images: list,
    labels: np.ndarray,
    dataset_source: str,
    workdir: Path,
    alias: str | None = None,
    code_path: Path | str = ".",
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    experiment: str | None = None,
    tracking_uri: str | None = None,
) -> RegisteredVersion:
    """Log a trained ``ImageClassifier`` with its lineage and register a version.

    ``images`` are the training images as the model takes them (encoded bytes or UINT8 pixels),
    ``labels`` their classes; ``workdir`` an empty folder for the weights file.
    """
    import mlflow
    import torch

    from runtime.vision.classifier import IMAGE_INPUT, MODEL_KIND

    if not images or len(images) != len(labels):
        raise RegistrationError(
            f"model '{name}': {len(images)} images for {len(labels)} labels; expected as many, at least one"
        )
    commit, tags = start_registration(name, code_path, experiment, tracking_uri)
    stats = image_frame(images)
    predictions = np.concatenate(
        [
            model.forward(np.stack([model.prepare(v, i) for i, v in enumerate(images[s : s + 256], s)]))["class"]
            for s in range(0, len(images), 256)
        ]
    )
    frame = stats.assign(image_sha256=[_content_digest(v) for v in images], label=np.asarray(labels).astype(str))
    with warnings.catch_warnings():
        # decode_failed is an integer column by design; MLflow's hint about missing values is advice.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
        dataset = mlflow.data.from_pandas(
            frame, source=resolve_source(dataset_source), name=f"{name}-training", targets="label"
        )
    weights = Path(workdir) / "weights.pt"
    torch.save(model._net.state_dict(), weights)
    with mlflow.start_run(tags=tags) as run:
        mlflow.log_input(dataset, context=DATASET_CONTEXT)
        if params:
            mlflow.log_params(params)
        if metrics:
            mlflow.log_metrics(metrics)
        profile = build_profile(
            stats,
            {"class": predictions},
            categorical=["decode_failed"],
            metadata={"dataset_digest": dataset.digest, IMAGE_PROFILE_INPUT: IMAGE_INPUT},
        )
        mlflow.log_text(profile.to_json(), PROFILE_ARTIFACT_NAME)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # MLflow's advice on type hints of predict
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                python_model=_unloaded(model),
                artifacts={"weights": str(weights)},
                signature=_signature(),
                metadata={"ml_serving.kind": MODEL_KIND},
                pip_requirements=_requirements(),
            )
    return finish_registration(name, info.model_uri, run.info.run_id, commit, dataset.digest, dataset_source, alias)


def _unloaded(model: Any) -> Any:
    """A copy without the network: the weights travel as an artifact, not in the pickle."""
    from runtime.vision.classifier import ImageClassifier

    return ImageClassifier(model.preprocessing, model.labels, width=model.width)


def _signature():
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    from runtime.vision.classifier import CLASS_OUTPUT, IMAGE_INPUT, SCORES_OUTPUT

    return ModelSignature(
        inputs=Schema([ColSpec("binary", IMAGE_INPUT)]),
        outputs=Schema([ColSpec("string", CLASS_OUTPUT), ColSpec(Array("float"), SCORES_OUTPUT)]),
    )


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg).split('+')[0]}" for pkg in ("mlflow", "torch", "pillow", "numpy", "pandas")]
