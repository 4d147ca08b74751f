"""A world of users and items whose tastes are known: the ground truth of the recommender.

Users and items have latent tastes (``dims`` normal factors each) and items a popularity
(Zipf-like); a user's affinity for an item is the scaled dot product of their tastes plus the
item's popularity plus a small lift in the user's context (device). From it follow:

- ``interactions``: implicit feedback, as a shop would log it: users come back (repeat visits)
  and each visit interacts with a few items drawn from their affinities (softmax).
- ``click_probability``: the chance a user clicks an item shown to them (logistic in the
  affinity); a shown list converts when any item on it is clicked, and a click is worth the
  item's price.

Everything is a pure function of the seed, so which recommender is truly better is known:
``expected_conversion`` of each one's lists under the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["TasteWorld", "CONTEXTS"]

CONTEXTS = ("web", "mobile", "tv")


@dataclass(frozen=True, eq=False)
class TasteWorld:
    users: np.ndarray
    """(n_users, dims) latent tastes."""
    items: np.ndarray
    """(n_items, dims) latent tastes."""
    popularity: np.ndarray
    """(n_items,) log-popularity."""
    context_lift: np.ndarray
    """(len(CONTEXTS), n_items) extra affinity per context."""
    home_context: np.ndarray
    """(n_users,) index into CONTEXTS of each user's usual device."""
    price: np.ndarray
    """(n_items,) value of a click on each item."""
    taste_scale: float = 1.6
    click_offset: float = 5.5

    @classmethod
    def generate(cls, n_users: int = 2000, n_items: int = 300, dims: int = 8, seed: int = 0) -> TasteWorld:
        if n_users < 1 or n_items < 10 or dims < 1:
            raise ValueError(f"expected n_users >= 1, n_items >= 10 and dims >= 1, got {n_users}, {n_items}, {dims}")
        rng = np.random.default_rng(seed)
        rank = rng.permutation(n_items) + 1
        return cls(
            users=rng.normal(size=(n_users, dims)),
            items=rng.normal(size=(n_items, dims)),
            popularity=-0.6 * np.log(rank),
            context_lift=rng.normal(0, 0.3, size=(len(CONTEXTS), n_items)),
            home_context=rng.choice(len(CONTEXTS), size=n_users, p=[0.5, 0.4, 0.1]),
            price=np.round(rng.lognormal(2.5, 0.6, n_items), 2),
        )

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def affinity(self, users: np.ndarray, contexts: np.ndarray | None = None) -> np.ndarray:
        """(len(users), n_items) affinities; ``contexts`` defaults to each user's home context."""
        users = np.asarray(users)
        contexts = self.home_context[users] if contexts is None else np.asarray(contexts)
        taste = self.users[users] @ self.items.T * (self.taste_scale / np.sqrt(self.items.shape[1]))
        return taste + self.popularity + self.context_lift[contexts]

    def interactions(self, visits_per_user: float = 6.0, items_per_visit: int = 3, seed: int = 1) -> pd.DataFrame:
        """Implicit feedback: one row per (user, context, item) interaction, repeat visits included;
        one in twenty rows has no context."""
        rng = np.random.default_rng(seed)
        visits = 1 + rng.poisson(visits_per_user - 1, self.n_users)
        frames = []
        for start in range(0, self.n_users, 500):
            users = np.arange(start, min(start + 500, self.n_users))
            weights = np.exp(self.affinity(users))
            weights /= weights.sum(axis=1, keepdims=True)
            draws = visits[users] * items_per_visit
            picks = [rng.choice(self.n_items, size=n, p=w) for n, w in zip(draws, weights)]
            frames.append(
                pd.DataFrame(
                    {
                        "user_id": np.repeat(users, draws).astype(np.int64),
                        "item_id": np.concatenate(picks).astype(np.int64),
                    }
                )
            )
        frame = pd.concat(frames, ignore_index=True)
        context = np.asarray(CONTEXTS, dtype=object)[self.home_context[frame["user_id"].to_numpy()]]
        # Some visits are logged without a device: the context is optional to the models too.
        context[rng.random(len(frame)) < 0.05] = None
        frame.insert(1, "context", context)
        return frame

    def click_probability(self, users: np.ndarray, shown: np.ndarray, contexts: np.ndarray | None = None) -> np.ndarray:
        """(len(users), k) chance that each user clicks each item of their shown list."""
        users = np.asarray(users)
        rows = np.arange(len(users))[:, None]
        affinity = self.affinity(users, contexts)[rows, np.asarray(shown)]
        return 1.0 / (1.0 + np.exp(self.click_offset - affinity))

    def expected_conversion(self, users: np.ndarray, shown: np.ndarray) -> float:
        """Mean chance over ``users`` that their list gets at least one click."""
        p = self.click_probability(users, shown)
        return float((1 - np.prod(1 - p, axis=1)).mean())
