"""One experiment's counts: users joined to the arm that first served them, and their outcomes.

The unit is the user (the sticky key): a user belongs to the arm of their first exposure, for
good (intention to treat); a later exposure from the other arm (a re-weight moved them, or a
retry answered from the other arm) is counted as a switch, not moved. Outcomes join to the user
by user id, or by the request id of an exposure still remembered.

Memory is bounded: at most ``max_users`` users (later new users are counted as untracked, never
analysed) and ``max_requests`` recent request ids; the lift history keeps ``max_points`` points,
thinning the older half when full. ``to_dict``/``from_dict`` persist it all.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ArmCounts", "ExperimentStore", "OUTCOME_KINDS"]

OUTCOME_KINDS = ("click", "conversion")
_ARMS = 2


@dataclass
class ArmCounts:
    users: int = 0
    exposures: int = 0
    converted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_KINDS, 0))
    """Users with at least one event of each kind."""
    value_sum: float = 0.0
    value_squares: float = 0.0
    """Sum over users of (their total value) squared: with ``value_sum`` the variance per user."""
    switched: int = 0
    """Users later served by the other arm."""


@dataclass
class ExperimentStore:
    arms: tuple[str, str]
    max_users: int = 1_000_000
    max_requests: int = 200_000
    max_points: int = 400
    counts: list[ArmCounts] = field(default_factory=lambda: [ArmCounts() for _ in range(_ARMS)])
    users: dict[str, list[Any]] = field(default_factory=dict)
    """user -> [arm index, converted kinds bitmask, total value, switched]."""
    requests: OrderedDict[str, str] = field(default_factory=OrderedDict)
    """request id -> user, the most recent ``max_requests``."""
    expected: list[float] = field(default_factory=lambda: [0.0] * _ARMS)
    """Users each arm should have had: the declared weights in force when each user arrived."""
    untracked_users: int = 0
    unjoined_outcomes: int = 0
    sequential_p: float = 1.0
    """The always-valid p-value so far (only falls); see ``runtime.decisions.sequential_test``."""
    tau: float | None = None
    """The test's mixture scale, fixed at its first look."""
    decided_after_users: int | None = None
    """Users (both arms) when the sequential test first rejected equal rates."""
    history: list[dict[str, float | None]] = field(default_factory=list)

    def expose(self, user: str, variant: str, request_id: str | None, weights: tuple[float, float]) -> bool:
        """Count one answer from ``variant`` to ``user``; False when the variant is not an arm."""
        if variant not in self.arms:
            return False
        arm = self.arms.index(variant)
        record = self.users.get(user)
        if record is None:
            if len(self.users) >= self.max_users:
                self.untracked_users += 1
                return True
            record = self.users[user] = [arm, 0, 0.0, False]
            self.counts[arm].users += 1
            total = sum(weights) or 1.0
            for i, weight in enumerate(weights):
                self.expected[i] += weight / total
        elif record[0] != arm and not record[3]:
            record[3] = True
            self.counts[record[0]].switched += 1
        self.counts[record[0]].exposures += 1
        if request_id:
            self.requests[request_id] = user
            self.requests.move_to_end(request_id)
            while len(self.requests) > self.max_requests:
                self.requests.popitem(last=False)
        return True

    def outcome(self, kind: str, user: str | None, request_id: str | None, value: float = 0.0) -> bool:
        """Join one outcome event to its user's arm; False when neither id is known (or remembered)."""
        if user is None and request_id is not None:
            user = self.requests.get(request_id)
        record = self.users.get(user) if user is not None else None
        if record is None:
            self.unjoined_outcomes += 1
            return False
        arm = self.counts[record[0]]
        bit = 1 << OUTCOME_KINDS.index(kind)
        if not record[1] & bit:
            record[1] |= bit
            arm.converted[kind] += 1
        if value:
            before = record[2]
            record[2] = before + value
            arm.value_sum += value
            arm.value_squares += record[2] ** 2 - before**2
        return True

    def add_point(self, point: dict[str, float | None]) -> None:
        self.history.append(point)
        if len(self.history) > self.max_points:
            half = len(self.history) // 2
            self.history = self.history[:half:2] + self.history[half:]

    def to_dict(self) -> dict[str, Any]:
        users = list(self.users.items())
        return {
            "arms": list(self.arms),
            "counts": [vars(c) for c in self.counts],
            "user_ids": [u for u, _ in users],
            "user_rows": np.asarray([r for _, r in users], dtype=float).tolist() if users else [],
            "requests": list(self.requests.items()),
            "expected": self.expected,
            "untracked_users": self.untracked_users,
            "unjoined_outcomes": self.unjoined_outcomes,
            "sequential_p": self.sequential_p,
            "tau": self.tau,
            "decided_after_users": self.decided_after_users,
            "history": self.history,
        }

    def load(self, data: dict[str, Any]) -> None:
        """Restore persisted state; a state of other arms (the experiment changed) is ignored."""
        if tuple(data["arms"]) != self.arms:
            raise ValueError(f"persisted arms {data['arms']} are not this experiment's {list(self.arms)}")
        self.counts = [ArmCounts(**c) for c in data["counts"]]
        self.users = {
            u: [int(r[0]), int(r[1]), float(r[2]), bool(r[3])] for u, r in zip(data["user_ids"], data["user_rows"])
        }
        self.requests = OrderedDict((k, v) for k, v in data["requests"][-self.max_requests :])
        self.expected = [float(x) for x in data["expected"]]
        self.untracked_users = int(data["untracked_users"])
        self.unjoined_outcomes = int(data["unjoined_outcomes"])
        self.sequential_p = float(data["sequential_p"])
        self.tau = data["tau"]
        self.decided_after_users = data["decided_after_users"]
        self.history = list(data["history"])[-self.max_points :]
