"""One real MLflow registry (SQLite + local artifacts) per test session, seeded with fraud versions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from examples.train_fraud import register_one
from runtime.registry.register import RegisteredVersion
from runtime.registry.server import local_registry
from tests.mlflow_state import mlflow_state
from tests.ports import free_port


@dataclass(frozen=True)
class Registry:
    url: str
    fraud: dict[int, RegisteredVersion]
    """Version number -> what register_model returned for it."""


@pytest.fixture(scope="session")
def seeded_registry(tmp_path_factory) -> Iterator[Registry]:
    folder = tmp_path_factory.mktemp("mlflow")
    with local_registry(folder, port=free_port()) as url:
        with mlflow_state(url):
            # Three fraud versions from the example script's code path; @challenger -> 3.
            fraud = {n: register_one("fraud", 100 + n, 400, "challenger" if n == 3 else None) for n in (1, 2, 3)}
        yield Registry(url=url, fraud=fraud)


@pytest.fixture
def registry(seeded_registry: Registry) -> Iterator[Registry]:
    """The session's registry, and its URL as the tracking URI for this one test (mlflow-artifacts:/
    URIs resolve against the global tracking URI, which any test in between may have moved)."""
    with mlflow_state(seeded_registry.url):
        yield seeded_registry
