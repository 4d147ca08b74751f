import pytest

from runtime.spec import ModelSpec


@pytest.fixture
def spec() -> ModelSpec:
    return ModelSpec.model_validate(
        {
            "variants": [
                {"model": "models:/recommender-popular/1", "role": "primary", "weight": 50, "name": "popular"},
                {"model": "models:/recommender-als/1", "role": "canary", "weight": 50, "name": "als"},
            ],
            "latencyBudgetMs": 200,
            "routing": {"policy": {"type": "sticky", "input": "user_id"}},
            "experiment": {"outcome": "click", "minimumDetectableLift": 0.1},
        }
    )
