"""The two recommenders against the ground truth they are trained from."""

import numpy as np
import pandas as pd
import pytest

from examples.train_recommender import expected_conversion, train
from runtime.recommend import CONTEXTS, ALSRecommender, PopularityRecommender, TasteWorld


@pytest.fixture(scope="module")
def world():
    return TasteWorld.generate(n_users=600, n_items=120, seed=3)


@pytest.fixture(scope="module")
def fitted(world):
    return {name: train(name, world, seed=5)[0] for name in ("popularity", "als")}


def test_als_is_truly_better_than_popularity_under_the_ground_truth(world, fitted):
    popular, als = (expected_conversion(fitted[name], world) for name in ("popularity", "als"))
    users = np.arange(world.n_users)
    oracle = world.expected_conversion(users, np.argsort(-world.affinity(users), axis=1)[:, :10])
    rng = np.random.default_rng(0)
    random = world.expected_conversion(users, rng.integers(0, world.n_items, (world.n_users, 10)))
    assert random < popular < als < oracle
    assert als / popular - 1 > 0.2  # a lift the demo can find in a few thousand users


def test_lists_are_top_k_distinct_items_best_first(world, fitted):
    query = pd.DataFrame({"user_id": [0, 1, 2], "context": ["web", "tv", None]})
    for model in fitted.values():
        out = model.predict(query)
        assert out["items"].shape == (3, 10) and out["items"].dtype == np.int64
        assert out["scores"].dtype == np.float32
        assert all(len(set(row)) == 10 for row in out["items"])
        assert (np.diff(out["scores"], axis=1) <= 0).all()
        assert out["items"].max() < world.n_items


def test_popularity_is_per_context_and_the_same_for_every_user(fitted):
    model = fitted["popularity"]
    web = model.predict(pd.DataFrame({"user_id": [1, 2], "context": ["web", "web"]}))["items"]
    assert (web[0] == web[1]).all()
    tv = model.predict(pd.DataFrame({"user_id": [1], "context": ["tv"]}))["items"]
    assert not (tv[0] == web[0]).all()
    unknown = model.predict(pd.DataFrame({"user_id": [1], "context": ["fridge"]}))["items"]
    assert (unknown[0] == model.predict(pd.DataFrame({"user_id": [1]}))["items"][0]).all()


def test_als_personalizes_and_falls_back_to_popular_items_for_unknown_users(fitted):
    als, popular = fitted["als"], fitted["popularity"]
    lists = als.predict(pd.DataFrame({"user_id": np.arange(50), "context": ["web"] * 50}))["items"]
    assert len({tuple(row) for row in lists}) > 40
    stranger = pd.DataFrame({"user_id": [10_000_000, -5], "context": ["web", "web"]})
    assert (als.predict(stranger)["items"] == popular.predict(stranger)["items"]).all()


def test_same_seed_same_world_and_same_model(world):
    again = TasteWorld.generate(n_users=600, n_items=120, seed=3)
    assert np.array_equal(world.users, again.users)
    assert world.interactions(seed=2).equals(again.interactions(seed=2))
    a, b = (train("als", world, seed=5)[0].predict(pd.DataFrame({"user_id": [4]}))["items"] for _ in range(2))
    assert (a == b).all()


def test_interactions_have_repeat_visits_and_a_popularity_skew(world):
    data = world.interactions(seed=1)
    per_user = data.groupby("user_id").size()
    assert per_user.min() >= 3 and per_user.max() > 3 * per_user.min()
    counts = data["item_id"].value_counts()
    assert counts.iloc[:12].sum() > 0.3 * len(data)  # the top tenth of items takes a third of interactions
    assert set(data["context"].dropna()) <= set(CONTEXTS) and 0.02 < data["context"].isna().mean() < 0.08


def test_bad_input_names_the_column_and_algorithm(world):
    with pytest.raises(ValueError, match="expected a 'user_id' column"):
        PopularityRecommender().fit(pd.DataFrame({"context": ["web"]}), pd.Series([1])).predict(
            pd.DataFrame({"x": [1]})
        )
    with pytest.raises(ValueError, match="unknown algorithm 'svd'"):
        train("svd", world, seed=1)
    assert isinstance(
        ALSRecommender(iterations=1).fit(
            pd.DataFrame({"user_id": [0, 1], "context": ["web", "tv"]}), pd.Series([3, 4])
        ),
        ALSRecommender,
    )
    with pytest.raises(ValueError, match="n_items >= 10"):
        TasteWorld.generate(n_items=3)
