"""Shipped stack configs to mutate, and the problems a mutated one is refused with."""

from __future__ import annotations

import copy

import pytest

from runtime.errors import SpecError
from runtime.spec import STACKS_DIR, read_stack_config, validate_config


def stack_config(stack: str = "prod") -> dict:
    """A fresh copy of a shipped stack file's ``config:`` map."""
    config, _ = read_stack_config(STACKS_DIR / f"Pulumi.{stack}.yaml")
    return copy.deepcopy(config)


def problems_of(config: dict, stack: str = "prod") -> list[str]:
    """The one-line problems ``config`` is refused with (it must be refused)."""
    with pytest.raises(SpecError) as caught:
        validate_config(config, stack)
    return caught.value.problems
