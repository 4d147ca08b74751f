"""One small digit classifier per test session, trained on the shipped digits (seconds, CPU),
and a local MLflow registry holding it with its lineage, shared by the tests that need them."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from examples.digits import encode, render, split

__all__ = ["trained", "registered", "heldout", "jpeg", "png"]

EPOCHS = 5


@functools.cache
def trained():
    """``(classifier, held-out accuracy in process)``: trained once per session."""
    from examples.train_vision import evaluate, train

    model, _, _, _ = train(seed=3, renders=2, epochs=EPOCHS, say=lambda _: None)
    return model, evaluate(model)


@functools.cache
def heldout(seed: int = 99, shift: str = "none") -> tuple[list, np.ndarray]:
    _, test_idx = split()
    return render(test_idx, seed=seed, shift=shift)


@functools.cache
def registered() -> dict[str, str]:
    """The trained classifier registered as ``vision`` version 1 in a SQLite registry."""
    import mlflow

    from runtime.registry.images import register_image_model
    from tests.mlflow_state import mlflow_state
    from tests.sqlite_registry import sqlite_registry

    tracking_uri, registry_root = sqlite_registry()
    root = registry_root / "vision"
    root.mkdir(exist_ok=True)
    with mlflow_state(tracking_uri):
        mlflow.set_experiment(
            experiment_id=mlflow.create_experiment("vision-tests", artifact_location=(root / "artifacts").as_uri())
        )
        model, accuracy = trained()
        train_idx, _ = split()
        images, labels = render(train_idx[:300], seed=5)
        version = register_image_model(
            model,
            name="vision",
            images=images,
            labels=labels,
            dataset_source="sklearn://datasets.load_digits?tests",
            workdir=root,
            experiment="vision-tests",
            code_path=Path(__file__),
        )
    return {"tracking_uri": tracking_uri, "uri": version.uri, "run_id": version.run_id, "root": str(root)}


def jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    return encode(pixels, "JPEG", quality)


def png(pixels: np.ndarray) -> bytes:
    return encode(pixels, "PNG")
