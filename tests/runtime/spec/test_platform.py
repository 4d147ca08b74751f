"""platform: rules across sections (the MLflow backend against the cluster provider)."""

from __future__ import annotations

import pytest

from runtime.spec import MLFLOW_BACKENDS, validate_config
from tests.runtime.spec.configs import problems_of, stack_config


@pytest.mark.parametrize(
    ("stack", "backend", "allowed"),
    [("local", "rds", "postgres, sqlite"), ("prod", "sqlite", "rds, postgres")],
)
def test_a_backend_the_provider_does_not_realize_is_refused_with_the_allowed_ones(stack, backend, allowed):
    config = stack_config(stack)
    config["ml-serving:platform"]["mlflow"].update(backend=backend, replicas=1)
    provider = config["ml-serving:platform"]["cluster"]["provider"]
    assert problems_of(config, stack) == [
        f"stacks/Pulumi.{stack}.yaml: ml-serving:platform.mlflow.backend: backend '{backend}' is not available "
        f"with cluster.provider '{provider}'; expected one of {allowed}"
    ]


def test_every_backend_a_provider_realizes_validates():
    for stack in ("local", "prod"):
        for backend in MLFLOW_BACKENDS[stack_config(stack)["ml-serving:platform"]["cluster"]["provider"]]:
            config = stack_config(stack)
            config["ml-serving:platform"]["mlflow"]["backend"] = backend
            assert validate_config(config, stack).platform.mlflow.backend == backend


def test_sqlite_takes_one_replica():
    config = stack_config("local")
    config["ml-serving:platform"]["mlflow"]["replicas"] = 2
    assert problems_of(config, "local") == [
        "stacks/Pulumi.local.yaml: ml-serving:platform.mlflow.replicas: "
        "the sqlite backend takes one replica (got 2); expected 1"
    ]
