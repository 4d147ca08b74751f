"""Users join the arm of their first exposure; outcomes join users; memory stays bounded."""

import pytest

from runtime.experiments.store import ExperimentStore


def test_user_stays_in_the_arm_of_the_first_exposure_and_a_switch_is_counted():
    store = ExperimentStore(("a", "b"))
    assert store.expose("u1", "a", "r1", (50, 50))
    store.expose("u1", "a", "r2", (50, 50))
    store.expose("u1", "b", "r3", (20, 80))
    a, b = store.counts
    assert (a.users, a.exposures, a.switched, b.users, b.exposures) == (1, 3, 1, 0, 0)
    assert not store.expose("u2", "shadow", "r4", (50, 50))


def test_outcomes_join_by_user_or_request_and_count_a_user_once_per_kind():
    store = ExperimentStore(("a", "b"))
    store.expose("u1", "b", "r1", (50, 50))
    assert store.outcome("click", None, "r1", 0.0)
    assert store.outcome("click", "u1", None, 2.5)
    assert store.outcome("conversion", "u1", None, 4.0)
    assert not store.outcome("click", "nobody", None)
    assert not store.outcome("click", None, "r-unknown")
    b = store.counts[1]
    assert b.converted == {"click": 1, "conversion": 1}
    assert b.value_sum == pytest.approx(6.5) and b.value_squares == pytest.approx(6.5**2)
    assert store.unjoined_outcomes == 2


def test_expected_users_follow_the_weights_in_force_when_each_arrived():
    store = ExperimentStore(("a", "b"))
    for i in range(10):
        store.expose(f"u{i}", "a" if i % 2 else "b", None, (50, 50))
    for i in range(10, 20):
        store.expose(f"u{i}", "b", None, (20, 80))
    assert store.expected == pytest.approx([5 + 2, 5 + 8])


def test_memory_is_bounded_by_users_requests_and_history_points():
    store = ExperimentStore(("a", "b"), max_users=5, max_requests=3, max_points=10)
    for i in range(8):
        store.expose(f"u{i}", "a", f"r{i}", (50, 50))
    assert len(store.users) == 5 and store.untracked_users == 3
    assert list(store.requests) == ["r2", "r3", "r4"]  # untracked users' requests are not remembered
    for i in range(100):
        store.add_point({"users": i})
    assert len(store.history) <= 10 and store.history[-1] == {"users": 99} and store.history[0] == {"users": 0}


def test_state_round_trips_and_refuses_other_arms():
    store = ExperimentStore(("a", "b"))
    store.expose("u1", "b", "r1", (50, 50))
    store.outcome("conversion", "u1", None, 3.0)
    store.sequential_p, store.tau, store.decided_after_users = 0.2, 0.01, None
    again = ExperimentStore(("a", "b"))
    again.load(store.to_dict())
    assert again.to_dict() == store.to_dict()
    assert again.outcome("click", None, "r1")
    with pytest.raises(ValueError, match="not this experiment's"):
        ExperimentStore(("a", "c")).load(store.to_dict())
