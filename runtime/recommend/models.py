"""Two recommenders over implicit feedback, as scikit-learn estimators (so MLflow logs them with
skops and the model server loads them like any other model).

``fit(X, y)``: ``X`` has one row per interaction with ``user_id`` and ``context`` columns, ``y``
is the item interacted with. ``predict(X)`` takes ``user_id`` and, optionally, ``context`` per
row and returns ``{"items": (n, k) int64, "scores": (n, k) float32}``: the top ``k`` items, best
first.

- ``PopularityRecommender``: the most interacted-with items in the row's context (all contexts
  for an unknown one); the same list for every user.
- ``ALSRecommender``: implicit alternating least squares (Hu, Koren and Volinsky, "Collaborative
  filtering for implicit feedback datasets", 2008): confidence ``1 + alpha * count``, factors
  solved exactly per user and per item each sweep. Users it has never seen get the popular items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

__all__ = ["PopularityRecommender", "ALSRecommender"]


def _columns(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    if "user_id" not in X:
        raise ValueError(f"expected a 'user_id' column, got columns {list(X.columns)}")
    users = pd.to_numeric(X["user_id"], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
    contexts = X["context"].astype(object).where(X["context"].notna(), None).to_numpy() if "context" in X else None
    return users, contexts


def _top(scores: np.ndarray, k: int) -> dict[str, np.ndarray]:
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    rows = np.arange(len(scores))[:, None]
    order = np.argsort(-scores[rows, part], axis=1, kind="stable")
    items = part[rows, order]
    return {"items": items.astype(np.int64), "scores": scores[rows, items].astype(np.float32)}


class PopularityRecommender(BaseEstimator):
    def __init__(self, k: int = 10) -> None:
        self.k = k

    def fit(self, X: pd.DataFrame, y: pd.Series) -> PopularityRecommender:
        items = np.asarray(y, dtype=np.int64)
        self.n_items_ = int(items.max()) + 1
        self.global_ = np.log1p(np.bincount(items, minlength=self.n_items_)).astype(np.float64)
        contexts = (
            X["context"].where(X["context"].notna(), "").astype(str).to_numpy()
            if "context" in X
            else np.full(len(items), "")
        )
        self.contexts_ = sorted(set(contexts.tolist()) - {""})
        self.by_context_ = np.stack(
            [np.log1p(np.bincount(items[contexts == name], minlength=self.n_items_)) for name in self.contexts_]
            or [self.global_]
        ).astype(np.float64)
        return self

    def _popular(self, contexts: np.ndarray | None, n: int) -> np.ndarray:
        scores = np.repeat(self.global_[None, :], n, axis=0)
        if contexts is not None:
            index = {name: i for i, name in enumerate(self.contexts_)}
            for row, name in enumerate(contexts):
                found = index.get(name)
                if found is not None:
                    scores[row] = self.by_context_[found]
        return scores

    def predict(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        _, contexts = _columns(X)
        return _top(self._popular(contexts, len(X)), self.k)


class ALSRecommender(PopularityRecommender):
    def __init__(
        self,
        k: int = 10,
        factors: int = 16,
        regularization: float = 0.1,
        alpha: float = 20.0,
        iterations: int = 10,
        random_state: int = 0,
    ) -> None:
        super().__init__(k)
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: pd.Series) -> ALSRecommender:
        super().fit(X, y)
        users, _ = _columns(X)
        self.n_users_ = int(users.max()) + 1
        pairs = pd.DataFrame({"u": users, "i": np.asarray(y, dtype=np.int64)}).value_counts().reset_index()
        u, i, count = (pairs[c].to_numpy() for c in ("u", "i", "count"))
        confidence = 1.0 + self.alpha * count
        rng = np.random.default_rng(self.random_state)
        user_f = rng.normal(0, 0.01, (self.n_users_, self.factors))
        item_f = rng.normal(0, 0.01, (self.n_items_, self.factors))
        for _ in range(self.iterations):
            user_f = self._solve(u, i, confidence, item_f, self.n_users_)
            item_f = self._solve(i, u, confidence, user_f, self.n_items_)
        self.user_factors_, self.item_factors_ = user_f, item_f
        self.known_ = np.zeros(self.n_users_, dtype=bool)
        self.known_[u] = True
        return self

    def _solve(
        self, rows: np.ndarray, cols: np.ndarray, confidence: np.ndarray, fixed: np.ndarray, n: int
    ) -> np.ndarray:
        """Each row's factors given the other side's: ``(F'F + F'(C-I)F + reg I)^-1 F'C p``."""
        d = fixed.shape[1]
        gram = fixed.T @ fixed + self.regularization * np.eye(d)
        lhs = np.repeat(gram[None], n, axis=0)
        f = fixed[cols]
        np.add.at(lhs, rows, (confidence - 1)[:, None, None] * f[:, :, None] * f[:, None, :])
        rhs = np.zeros((n, d))
        np.add.at(rhs, rows, confidence[:, None] * f)
        return np.linalg.solve(lhs, rhs[:, :, None])[:, :, 0]

    def predict(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        users, contexts = _columns(X)
        known = (users >= 0) & (users < self.n_users_)
        known[known] = self.known_[users[known]]
        scores = self._popular(contexts, len(X))
        if known.any():
            # Taste scores and popularity are on different scales: a known user's list is by taste alone.
            scores[known] = self.user_factors_[users[known]] @ self.item_factors_.T
        return _top(scores, self.k)
