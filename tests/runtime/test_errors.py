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
