from __future__ import annotations

from runtime.gateway.breaker import Breaker, BreakerState
from runtime.spec import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only():
    clock = Clock()
    breaker = Breaker(CircuitBreaker(failure_threshold=3, cooldown_ms=1000), clock=clock)
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


def test_half_open_lets_one_probe_and_recovers_on_success():
    clock = Clock()
    changes: list[BreakerState] = []
    breaker = Breaker(CircuitBreaker(failure_threshold=1, cooldown_ms=500), clock=clock, on_change=changes.append)
    breaker.failure()
    clock.now += 0.499
    assert not breaker.allow()
    clock.now += 0.002
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow(), "only one probe at a time"
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_failed_probe_opens_for_another_cooldown():
    clock = Clock()
    breaker = Breaker(CircuitBreaker(failure_threshold=5, cooldown_ms=100), clock=clock)
    for _ in range(5):
        breaker.failure()
    clock.now += 0.2
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 0.05
    assert not breaker.allow()
    clock.now += 0.06
    assert breaker.allow()
    breaker.release()
    assert breaker.allow(), "a released probe frees the slot for the next one"
