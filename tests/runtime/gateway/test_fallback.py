from __future__ import annotations

from runtime.gateway.fallback import fallback_rows
from runtime.spec import FallbackSpec


def test_constant_per_row():
    assert fallback_rows(FallbackSpec(value="not fraud"), {"amount": [1, 2, 3]}, 3) == ["not fraud"] * 3


def test_first_matching_rule_wins_per_row():
    fallback = FallbackSpec.model_validate(
        {
            "value": 0,
            "rules": [
                {"when": {"input": "amount", "op": "gt", "value": 10000}, "then": 1},
                {"when": {"input": "country", "op": "in", "value": ["xx", "yy"]}, "then": 2},
                {"when": {"input": "amount", "op": "ge", "value": 5000}, "then": 3},
            ],
        }
    )
    columns = {"amount": [20000, 6000, 10, 50000, None], "country": ["xx", "de", "yy", "yy", "de"]}
    assert fallback_rows(fallback, columns, 5) == [1, 3, 2, 1, 0]


def test_type_mismatch_and_missing_input_do_not_match():
    fallback = FallbackSpec.model_validate(
        {"value": "ok", "rules": [{"when": {"input": "amount", "op": "lt", "value": 5}, "then": "low"}]}
    )
    assert fallback_rows(fallback, {"amount": ["three", 2]}, 2) == ["ok", "low"]
    assert fallback_rows(fallback, {"other": [1, 2]}, 2) == ["ok", "ok"]
