"""The one formatter of pydantic's errors: key paths, wording, and what was given."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.errors import key_path, validation_problems


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: Annotated[int, Field(gt=0)]


class _Body(BaseModel):
    rows: list[_Row]


def _problems(data: object, **options) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        _Body.model_validate(data)
    return validation_problems(caught.value.errors(include_url=False), **options)


def test_each_problem_names_its_key_path_and_what_was_expected():
    problems = _problems({"rows": [{"name": "a", "size": 1}, {"size": 0, "colour": "red"}]})
    assert problems == [
        "rows[1].name: required key is missing",
        "rows[1].size: input should be greater than 0 (got 0)",
        "rows[1].colour: unknown key (check the spelling)",
    ]


def test_an_empty_path_is_named_by_root_and_prefix_goes_before_every_path():
    assert _problems([], root="body") == ["body: input should be a valid dictionary or instance of _Body"]
    assert _problems({"rows": 5}, prefix="ml-serving:") == ["ml-serving:rows: input should be a valid list (got 5)"]


def test_a_long_input_is_shortened():
    (problem,) = _problems({"rows": [{"name": "a", "size": "x" * 500}]})
    assert problem.startswith("rows[0].size: input should be a valid integer") and problem.endswith("...)")
    assert len(problem) < 200


def test_drop_leaves_out_leading_parts_and_at_points_below_the_model():
    errors = [{"type": "spec", "loc": ("body", "rows", 0), "msg": "Bad row", "ctx": {"at": "size"}}]
    assert validation_problems(errors, drop=1) == ["rows[0].size: bad row"]
    assert key_path(("variants",), "[2]") == "variants[2]"


def test_model_not_found_words_its_own_message_from_what_it_is_given():
    from runtime.errors import ModelNotFound

    cases = {
        ModelNotFound.not_served(
            "a", ["c", "b"], by="by this gateway"
        ): "model 'a' is not served by this gateway; served models: b, c",
        ModelNotFound.not_served("a", []): "model 'a' is not served here; served models: none",
        ModelNotFound.not_monitored("a", {"fraud": 1}): "model 'a' is not monitored; monitored models: fraud",
        ModelNotFound.unknown_variant(
            "m", "v9", ["v4", "v3"]
        ): "variant 'v9' of model 'm' is unknown; variants: v3, v4",
        ModelNotFound.no_experiment("m", {}): "model 'm' runs no experiment; experiments run for: none",
        ModelNotFound.no_experiment("m"): "model 'm' runs no experiment; its stack entry declares none",
        ModelNotFound.not_loaded("m"): "model 'm' is not loaded",
    }
    for error, message in cases.items():
        assert error.message == message and error.status == 404
    assert "set profiles.m.v1" in ModelNotFound.no_profile("m", "v1").message
    assert "(found 2)" in ModelNotFound.no_mlflow_model("/x", 2).message
    assert "'isvc' names no monitored model (a, b)" in ModelNotFound.unmatched_logger("isvc", ["b", "a"]).message
