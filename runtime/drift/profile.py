"""The reference profile: what the training data (and the model's predictions on it) looked like.

Built once at registration and stored as one versioned JSON artifact next to the model
(``PROFILE_ARTIFACT_NAME``). Per numeric column: quantile bin edges, the reference count in each
bin, a fixed-size random sample and summary statistics. Per categorical column: the count of each
category (live categories missing from it land in an "unseen" bucket at comparison time).
The monitor compares live windows with it without ever seeing the training data again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runtime.drift.arrays import bin_counts, bin_index, category_key, decode_f64, encode_f64
from runtime.drift.errors import ProfileError

__all__ = [
    "PROFILE_FORMAT_VERSION",
    "PROFILE_ARTIFACT_NAME",
    "UNSEEN",
    "ProfileError",
    "NumericProfile",
    "CategoricalProfile",
    "ColumnProfile",
    "ReferenceProfile",
    "build_profile",
    "profile_column",
    "bin_index",
    "bin_counts",
    "category_key",
    "load_profile",
]

PROFILE_FORMAT_VERSION = 1
"""Format version written into every profile; loading any other version is an error."""
PROFILE_ARTIFACT_NAME = "reference_profile.json"
"""File name of the profile artifact, logged next to the model in MLflow."""
UNSEEN = "__unseen__"
"""Bucket for categories the reference never saw (and for categories folded away when too many)."""
DEFAULT_BINS = 20
DEFAULT_SAMPLE_SIZE = 10_000
MAX_CATEGORIES = 1_000
"""Most frequent categories kept per column; the rest are counted in ``UNSEEN``."""
_DISCRETE_MAX_VALUES = 20
"""An integer or boolean column with at most this many distinct values is treated as categorical."""


@dataclass(frozen=True)
class NumericProfile:
    edges: np.ndarray = field(compare=False, repr=False)
    """Interior quantile cut points, strictly increasing."""
    counts: tuple[int, ...]
    """Reference rows per bin (``len(edges) + 1`` bins)."""
    sample: np.ndarray = field(compare=False, repr=False)
    """A uniform random sample of the reference values (without replacement)."""
    mean: float
    std: float
    min: float
    max: float
    missing: int = 0
    kind: str = "numeric"

    @property
    def rows(self) -> int:
        return int(sum(self.counts))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "edges": encode_f64(self.edges),
            "counts": list(self.counts),
            "sample": encode_f64(self.sample),
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "missing": self.missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericProfile:
        return cls(
            edges=decode_f64(data["edges"]),
            counts=tuple(int(c) for c in data["counts"]),
            sample=decode_f64(data["sample"]),
            mean=float(data["mean"]),
            std=float(data["std"]),
            min=float(data["min"]),
            max=float(data["max"]),
            missing=int(data.get("missing", 0)),
        )


@dataclass(frozen=True)
class CategoricalProfile:
    counts: dict[str, int]
    """Reference rows per category (at most ``MAX_CATEGORIES``; the rest under ``UNSEEN``)."""
    missing: int = 0
    kind: str = "categorical"

    @property
    def rows(self) -> int:
        return int(sum(self.counts.values()))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "counts": dict(self.counts), "missing": self.missing}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalProfile:
        return cls(counts={str(k): int(v) for k, v in data["counts"].items()}, missing=int(data.get("missing", 0)))


ColumnProfile = NumericProfile | CategoricalProfile
_KINDS: dict[str, type[NumericProfile] | type[CategoricalProfile]] = {
    "numeric": NumericProfile,
    "categorical": CategoricalProfile,
}


@dataclass(frozen=True)
class ReferenceProfile:
    features: dict[str, ColumnProfile]
    """Input name -> profile of that input."""
    predictions: dict[str, ColumnProfile]
    """Output name -> profile of the model's outputs on the reference data (may be empty)."""
    rows: int
    metadata: dict[str, str] = field(default_factory=dict)
    format_version: int = PROFILE_FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "rows": self.rows,
            "metadata": dict(self.metadata),
            "features": {name: col.to_dict() for name, col in self.features.items()},
            "predictions": {name: col.to_dict() for name, col in self.predictions.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any, source: str = "profile") -> ReferenceProfile:
        if not isinstance(data, dict):
            raise ProfileError(f"{source}: a reference profile must be a JSON object, got {type(data).__name__}")
        version = data.get("format_version")
        if version != PROFILE_FORMAT_VERSION:
            raise ProfileError(
                f"{source}: unknown reference profile format_version {version!r}; "
                f"this monitor reads format_version {PROFILE_FORMAT_VERSION} (rebuild the profile with build_profile)"
            )
        try:
            return cls(
                features={n: _column_from_dict(c, f"{source}: features.{n}") for n, c in data["features"].items()},
                predictions={
                    n: _column_from_dict(c, f"{source}: predictions.{n}")
                    for n, c in data.get("predictions", {}).items()
                },
                rows=int(data["rows"]),
                metadata={str(k): str(v) for k, v in data.get("metadata", {}).items()},
            )
        except ProfileError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProfileError(f"{source}: malformed reference profile ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "profile") -> ReferenceProfile:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"{source}: not valid JSON ({exc})") from exc
        return cls.from_dict(data, source)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the profile as JSON; a directory gets ``PROFILE_ARTIFACT_NAME`` inside it."""
        target = Path(path)
        if target.is_dir():
            target = target / PROFILE_ARTIFACT_NAME
        target.write_text(self.to_json(), encoding="utf-8")
        return target


def _column_from_dict(data: Any, where: str) -> ColumnProfile:
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in _KINDS:
        raise ProfileError(f"{where}: unknown column kind {kind!r}; expected one of {sorted(_KINDS)}")
    return _KINDS[kind].from_dict(data)


def _is_categorical(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return True
    if pd.api.types.is_integer_dtype(series):
        return series.nunique(dropna=True) <= _DISCRETE_MAX_VALUES
    return False


def profile_column(
    values: Any,
    *,
    categorical: bool | None = None,
    bins: int = DEFAULT_BINS,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    rng: np.random.Generator | None = None,
    name: str = "column",
) -> ColumnProfile:
    """Profile one column; ``categorical=None`` decides from the dtype and number of distinct values."""
    series = pd.Series(values)
    if categorical is None:
        categorical = _is_categorical(series)
    missing = int(series.isna().sum())
    present = series.dropna()
    if present.empty:
        raise ProfileError(f"column '{name}': no non-missing values to profile")
    if categorical:
        counts = present.map(category_key).value_counts()
        kept = {str(k): int(v) for k, v in counts.iloc[:MAX_CATEGORIES].items()}
        folded = int(counts.iloc[MAX_CATEGORIES:].sum())
        if folded:
            kept[UNSEEN] = kept.get(UNSEEN, 0) + folded
        return CategoricalProfile(counts=kept, missing=missing)
    try:
        array = present.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"column '{name}': expected numbers, got {present.dtype} ({exc})") from exc
    if not np.all(np.isfinite(array)):
        raise ProfileError(f"column '{name}': contains infinite values; expected finite numbers")
    if bins < 2:
        raise ProfileError(f"bins: expected at least 2, got {bins}")
    edges = np.unique(np.quantile(array, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    counts = bin_counts(edges, array)
    rng = rng if rng is not None else np.random.default_rng(0)
    sample = array if array.size <= sample_size else rng.choice(array, size=sample_size, replace=False)
    return NumericProfile(
        edges=edges,
        counts=tuple(int(c) for c in counts),
        sample=np.sort(sample),
        mean=float(array.mean()),
        std=float(array.std()),
        min=float(array.min()),
        max=float(array.max()),
        missing=missing,
    )


def _prediction_columns(predictions: Any) -> dict[str, Any]:
    if predictions is None:
        return {}
    if isinstance(predictions, pd.DataFrame):
        return {str(c): predictions[c] for c in predictions.columns}
    if isinstance(predictions, Mapping):
        return {str(k): v for k, v in predictions.items()}
    if isinstance(predictions, pd.Series):
        return {str(predictions.name or "prediction"): predictions}
    array = np.asarray(predictions)
    if array.ndim == 1:
        return {"prediction": array}
    if array.ndim == 2:
        return {f"prediction_{i}": array[:, i] for i in range(array.shape[1])}
    raise ProfileError(f"predictions: expected one or two dimensions, got shape {array.shape}")


def build_profile(
    features: pd.DataFrame,
    predictions: Any = None,
    *,
    categorical: Iterable[str] = (),
    bins: int = DEFAULT_BINS,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
    metadata: Mapping[str, str] | None = None,
) -> ReferenceProfile:
    """Profile the training features and, when given, the model's predictions on them.

    ``predictions`` may be a 1-D array (one output named ``prediction``), a 2-D array, a Series, a
    DataFrame or a mapping of output name to values. Columns named in ``categorical`` are treated
    as categorical whatever their dtype.
    """
    if not isinstance(features, pd.DataFrame):
        raise ProfileError(f"features: expected a pandas DataFrame, got {type(features).__name__}")
    if features.empty:
        raise ProfileError("features: the DataFrame has no rows or no columns")
    forced = set(categorical)
    unknown = forced - {str(c) for c in features.columns}
    if unknown:
        raise ProfileError(f"categorical: {sorted(unknown)} are not columns of features ({list(features.columns)})")
    rng = np.random.default_rng(seed)

    def column(values: Any, name: str, categorical: bool | None = None) -> ColumnProfile:
        return profile_column(values, categorical=categorical, bins=bins, sample_size=sample_size, rng=rng, name=name)

    cols = {str(c): column(features[c], str(c), True if str(c) in forced else None) for c in features.columns}
    preds = {}
    for name, values in _prediction_columns(predictions).items():
        if len(values) != len(features):
            raise ProfileError(f"predictions.{name}: {len(values)} values for {len(features)} feature rows")
        preds[name] = column(values, f"prediction {name}")
    return ReferenceProfile(features=cols, predictions=preds, rows=len(features), metadata=dict(metadata or {}))


def load_profile(location: str) -> ReferenceProfile:
    """Read a profile from a file path, a directory holding ``PROFILE_ARTIFACT_NAME``, or an MLflow
    artifact URI (``runs:/...``, ``models:/...``, ``mlflow-artifacts:/...``, ``s3://...``)."""
    path = Path(location)
    if "://" in location or location.startswith(("runs:/", "models:/", "mlflow-artifacts:")):
        if not location.startswith("file://"):
            import mlflow.artifacts  # heavy: only for profiles stored in MLflow

            try:
                path = Path(mlflow.artifacts.download_artifacts(artifact_uri=location))
            except Exception as exc:  # noqa: BLE001 - MLflow raises many types; report them uniformly
                raise ProfileError(f"reference profile '{location}': cannot download from MLflow ({exc})") from exc
        else:
            path = Path(location.removeprefix("file://"))
    if path.is_dir():
        path = path / PROFILE_ARTIFACT_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"reference profile '{location}': cannot read {path} ({exc.strerror or exc})") from exc
    return ReferenceProfile.from_json(text, source=str(location))
