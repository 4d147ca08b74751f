"""How the drift monitor compares a model's live inputs with its reference profile."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from runtime.spec.common import SpecModel


class FeatureDriftSpec(SpecModel):
    test: Literal["ks", "chi2", "psi", "wasserstein"]
    """Test for this feature, overriding the default for its type and size."""
    threshold: Annotated[float, Field(gt=0)] | None = None
    """For distances (psi, wasserstein): the value at or above which the feature drifted."""


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
