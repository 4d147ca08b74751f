"""The spec's drift tests are the registry's: names, thresholds and options are checked against it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runtime.drift.stattests import STATTESTS
from runtime.spec import DriftSpec, FeatureDriftSpec


def test_the_spec_accepts_exactly_the_registered_tests():
    schema = FeatureDriftSpec.model_json_schema()
    assert schema["properties"]["test"]["enum"] == sorted(STATTESTS)
    for name in STATTESTS:
        assert FeatureDriftSpec(test=name).test == name
    listed = ", ".join(f"'{n}'" for n in sorted(STATTESTS)[:-1]) + f" or '{sorted(STATTESTS)[-1]}'"
    with pytest.raises(ValidationError, match=f"unknown drift test 'kolmogorov'; expected {listed} \\["):
        FeatureDriftSpec(test="kolmogorov")


def test_a_threshold_is_for_distances_only():
    distance = next(n for n, t in STATTESTS.items() if t.kind == "distance")
    assert FeatureDriftSpec(test=distance, threshold=0.2).threshold == 0.2
    with pytest.raises(ValidationError, match="'ks' is a hypothesis test, decided by drift.pValue"):
        FeatureDriftSpec(test="ks", threshold=0.2)


def test_options_are_the_tests_own_and_within_bounds():
    spec = DriftSpec.model_validate({"features": {"country": {"test": "chi2", "options": {"minExpected": 10}}}})
    assert spec.features["country"].options == {"minExpected": 10.0}
    with pytest.raises(ValidationError, match="'chi2' has no option 'poolBelow'; its options: minExpected"):
        FeatureDriftSpec.model_validate({"test": "chi2", "options": {"poolBelow": 3}})
    with pytest.raises(ValidationError, match="'psi' has no option 'minExpected'; its options: none"):
        FeatureDriftSpec.model_validate({"test": "psi", "options": {"minExpected": 3}})
    with pytest.raises(ValidationError, match=r"must be at least 0 \(got -1\)"):
        FeatureDriftSpec.model_validate({"test": "chi2", "options": {"minExpected": -1}})
