"""How the drift monitor compares a model's live inputs with its reference profile."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from runtime.drift.stattests import STATTESTS, expected_tests
from runtime.spec.common import SpecModel, problem


class FeatureDriftSpec(SpecModel):
    test: Annotated[str, Field(json_schema_extra={"enum": sorted(STATTESTS)})]
    """Test for this feature, overriding the default for its type: a name in the registry
    ``runtime.drift.stattests.STATTESTS``."""
    threshold: Annotated[float, Field(gt=0)] | None = None
    """For distances: the value at or above which the feature drifted (each distance has a default)."""
    options: dict[str, float] = {}
    """The test's options by name (e.g. chi2's ``minExpected``); unset ones take the registry's defaults."""

    @field_validator("test")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in STATTESTS:
            raise ValueError(f"unknown drift test {value!r}; expected {expected_tests()}")
        return value

    @model_validator(mode="after")
    def _fits_the_test(self) -> FeatureDriftSpec:
        test = STATTESTS[self.test]
        if self.threshold is not None and test.kind == "p_value":
            raise problem(
                "threshold",
                f"'{self.test}' is a hypothesis test, decided by drift.pValue; a threshold is for distances "
                f"({expected_tests(t for t in STATTESTS.values() if t.kind == 'distance')})",
            )
        for name, value in self.options.items():
            option = test.option(name)
            if option is None:
                known = ", ".join(o.name for o in test.options) or "none"
                raise problem(f"options.{name}", f"'{self.test}' has no option '{name}'; its options: {known}")
            if value < option.minimum:
                raise problem(f"options.{name}", f"must be at least {option.minimum:g} (got {value:g})")
        return self


class DriftSpec(SpecModel):
    enabled: bool = True
    window_rows: Annotated[int, Field(gt=0)] = 5000
    """Rows per comparison window."""
    p_value: Annotated[float, Field(gt=0, lt=1)] = 0.05
    """Significance level of the per-feature tests, after the correction below."""
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.3
    """Share of drifted features at which the whole dataset counts as drifted."""
    correction: Literal["bh", "bonferroni"] = "bh"
    """Multiple-testing correction across features: Benjamini-Hochberg (false discovery rate) or
    Bonferroni (family-wise error rate)."""
    features: dict[str, FeatureDriftSpec] = {}
    """Per-feature test overrides."""
    prediction_drift: bool = True
    """Also test the distribution of the model's outputs."""
