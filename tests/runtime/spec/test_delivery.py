"""delivery: an experiment and progressive delivery together (the outcome is a promotion guardrail)."""

from __future__ import annotations

from runtime.spec import validate_config
from tests.runtime.spec.configs import problems_of, stack_config


def _recommender(config: dict) -> dict:
    return config["ml-serving:models"]["recommender"]


def test_an_experiment_may_run_under_progressive_delivery():
    config = stack_config("staging")
    _recommender(config)["progressive"] = {"steps": [50, 100], "minSamplesPerStep": 1000}
    spec = validate_config(config, "staging")
    model = spec.models["recommender"]
    assert model.experiment is not None and model.progressive is not None
    assert model.arms == ("popular", "als")


def test_a_rolled_back_canary_at_weight_0_keeps_its_experiment_only_under_progressive_delivery():
    config = stack_config("staging")
    variants = _recommender(config)["variants"]
    variants[0]["weight"], variants[1]["weight"] = 100, 0
    assert problems_of(config, "staging") == [
        "stacks/Pulumi.staging.yaml: ml-serving:models.recommender.variants[1].weight: "
        "an experiment's arms need weights above 0"
    ]
    _recommender(config)["progressive"] = {"steps": [50, 100]}
    assert validate_config(config, "staging").models["recommender"].variants[1].weight == 0
