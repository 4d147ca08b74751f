import json

import numpy as np
import pandas as pd
import pytest

from runtime.drift.profile import (
    PROFILE_ARTIFACT_NAME,
    UNSEEN,
    CategoricalProfile,
    NumericProfile,
    ProfileError,
    ReferenceProfile,
    bin_index,
    build_profile,
    load_profile,
)
from tests.mlflow_state import mlflow_state


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 5_000
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3.0, 1.0, n),
            "age": rng.integers(18, 90, n),
            "country": rng.choice(["fr", "de", "us"], n, p=[0.5, 0.3, 0.2]),
            "is_new": rng.random(n) < 0.1,
        }
    )


def test_build_profile_types_bins_and_sample(frame):
    profile = build_profile(frame, np.where(frame["amount"] > 30, 1, 0), bins=10, sample_size=1_000)
    amount = profile.features["amount"]
    assert isinstance(amount, NumericProfile)
    assert len(amount.counts) == len(amount.edges) + 1 == 10
    assert amount.rows == len(frame)
    # quantile bins: every bin holds about a tenth of the rows
    assert max(amount.counts) - min(amount.counts) <= 2
    assert amount.sample.size == 1_000 and np.isin(amount.sample, frame["amount"].to_numpy()).all()
    assert amount.mean == pytest.approx(frame["amount"].mean())
    assert isinstance(profile.features["age"], NumericProfile)  # 72 distinct integers: numeric
    country = profile.features["country"]
    assert isinstance(country, CategoricalProfile)
    assert country.counts == frame["country"].value_counts().to_dict()
    assert set(profile.features["is_new"].counts) == {"true", "false"}
    assert set(profile.predictions) == {"prediction"}
    assert isinstance(profile.predictions["prediction"], CategoricalProfile)


def test_json_round_trip_keeps_everything(frame, tmp_path):
    profile = build_profile(frame, {"score": frame["amount"] / 100}, metadata={"run_id": "abc"})
    path = profile.save(tmp_path)
    assert path.name == PROFILE_ARTIFACT_NAME
    again = load_profile(str(tmp_path))
    assert again == profile
    for name in ("amount", "age"):
        np.testing.assert_array_equal(again.features[name].edges, profile.features[name].edges)
        np.testing.assert_array_equal(again.features[name].sample, profile.features[name].sample)
    assert load_profile(f"file://{path}").metadata == {"run_id": "abc"}


def test_unknown_format_version_is_a_clear_error(frame):
    data = json.loads(build_profile(frame).to_json())
    data["format_version"] = 99
    with pytest.raises(ProfileError, match="unknown reference profile format_version 99.*reads format_version 1"):
        ReferenceProfile.from_json(json.dumps(data), source="models:/fraud/3")


def test_malformed_profiles_name_the_problem(tmp_path):
    with pytest.raises(ProfileError, match="not valid JSON"):
        ReferenceProfile.from_json("{")
    with pytest.raises(ProfileError, match="features.x: unknown column kind 'histogram'"):
        ReferenceProfile.from_dict({"format_version": 1, "rows": 1, "features": {"x": {"kind": "histogram"}}})
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(str(tmp_path / "missing.json"))
    with pytest.raises(ProfileError, match="categorical: \\['nope'\\]"):
        build_profile(pd.DataFrame({"a": [1.0]}), categorical=["nope"])
    with pytest.raises(ProfileError, match="predictions.prediction: 2 values for 1 feature rows"):
        build_profile(pd.DataFrame({"a": [1.0]}), [0, 1])


def test_too_many_categories_fold_into_unseen():
    values = [f"c{i}" for i in range(1_500)] * 2
    profile = build_profile(pd.DataFrame({"c": values}))
    counts = profile.features["c"].counts
    assert len(counts) == 1_001 and counts[UNSEEN] == 1_000


def test_bin_index_matches_edges():
    edges = np.array([0.0, 1.0, 2.0])
    assert bin_index(edges, np.array([-5.0, 0.0, 0.5, 1.0, 2.0, 9.0])).tolist() == [0, 1, 1, 2, 3, 3]


def test_bin_counts_agree_with_bin_index():
    from runtime.drift.profile import bin_counts

    rng = np.random.default_rng(5)
    values = np.round(rng.normal(size=5_000), 1)  # many values sit exactly on an edge
    for edges in (np.unique(np.round(rng.normal(size=19), 1)), np.sort(rng.normal(size=100))):
        expected = np.bincount(bin_index(edges, values), minlength=len(edges) + 1)
        assert bin_counts(edges, values).tolist() == expected.tolist()


def test_load_profile_from_an_mlflow_run_artifact(frame, tmp_path):
    import mlflow

    with mlflow_state(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        experiment = mlflow.create_experiment("drift", artifact_location=(tmp_path / "artifacts").as_uri())
        profile = build_profile(frame)
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.log_text(profile.to_json(), PROFILE_ARTIFACT_NAME)
        assert load_profile(f"runs:/{run.info.run_id}/{PROFILE_ARTIFACT_NAME}") == profile
        with pytest.raises(ProfileError, match="cannot download from MLflow"):
            load_profile(f"runs:/{run.info.run_id}/nothing-here.json")
