"""The declared fallback answer: a constant per row, or the first matching rule on input values.

Rules compare one input's value in each row with an operand; nothing is evaluated as code.
"""

from __future__ import annotations

import operator
from typing import Any

from runtime.spec import FallbackConditionSpec, FallbackSpec

__all__ = ["fallback_rows"]

_OPS = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
    "in": lambda left, right: left in right,
}


def _matches(condition: FallbackConditionSpec, value: Any) -> bool:
    if value is None:
        return False
    try:
        return bool(_OPS[condition.op](value, condition.value))
    except TypeError:
        # A rule on a number does not match a string value (and the other way round).
        return False


def fallback_rows(fallback: FallbackSpec, columns: dict[str, list[Any]], rows: int) -> list[Any]:
    """One output per row. ``columns`` maps input name -> one value per row."""
    if not fallback.rules:
        return [fallback.value] * rows
    out = []
    for row in range(rows):
        for rule in fallback.rules:
            column = columns.get(rule.when.input)
            value = column[row] if column is not None and row < len(column) else None
            if _matches(rule.when, value):
                out.append(rule.then)
                break
        else:
            out.append(fallback.value)
    return out
