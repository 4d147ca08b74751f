from __future__ import annotations

import pytest

from runtime.gateway.breaker import Breaker, BreakerState
from runtime.spec import CircuitBreakerSpec


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fail(breaker: Breaker, times: int = 1) -> None:
    for _ in range(times):
        permit = breaker.acquire()
        assert permit is not None, "the breaker refused a call while the test was still failing it"
        breaker.record(permit, False)


def test_opens_after_consecutive_failures_only():
    clock = Clock()
    breaker = Breaker(CircuitBreakerSpec(failure_threshold=3, cooldown_ms=1000), clock=clock)
    fail(breaker, 2)
    breaker.record(breaker.acquire(), True)
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED and breaker.acquire() is not None
    fail(breaker)
    assert breaker.state is BreakerState.OPEN
    assert breaker.acquire() is None


def test_half_open_lets_one_probe_and_recovers_on_its_success():
    clock = Clock()
    changes: list[BreakerState] = []
    breaker = Breaker(CircuitBreakerSpec(failure_threshold=1, cooldown_ms=500), clock=clock, on_change=changes.append)
    fail(breaker)
    clock.now += 0.499
    assert breaker.acquire() is None
    clock.now += 0.002
    assert breaker.state is BreakerState.HALF_OPEN
    probe = breaker.acquire()
    assert probe is not None and probe.probe
    assert breaker.acquire() is None, "only one probe at a time"
    breaker.record(probe, True)
    assert breaker.state is BreakerState.CLOSED and breaker.acquire() is not None
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_failed_probe_opens_for_another_cooldown_and_a_released_one_frees_the_slot():
    clock = Clock()
    breaker = Breaker(CircuitBreakerSpec(failure_threshold=5, cooldown_ms=100), clock=clock)
    fail(breaker, 5)
    clock.now += 0.2
    breaker.record(breaker.acquire(), False)
    assert breaker.state is BreakerState.OPEN
    clock.now += 0.05
    assert breaker.acquire() is None
    clock.now += 0.06
    breaker.release(breaker.acquire())
    assert breaker.acquire() is not None, "a released probe frees the slot for the next one"


def test_a_stale_success_never_closes_an_open_breaker():
    clock = Clock()
    breaker = Breaker(CircuitBreakerSpec(failure_threshold=2, cooldown_ms=1000), clock=clock)
    slow = breaker.acquire()  # admitted while closed, answers after the breaker opened
    fail(breaker, 2)
    assert breaker.state is BreakerState.OPEN
    breaker.record(slow, True)
    assert breaker.state is BreakerState.OPEN and breaker.acquire() is None, "a stale success skipped the cool-down"
    clock.now += 1.0
    probe = breaker.acquire()
    breaker.record(slow, True)
    assert breaker.state is BreakerState.HALF_OPEN, "only the probe's own result may close the breaker"
    breaker.record(probe, True)
    assert breaker.state is BreakerState.CLOSED


def test_a_stale_failure_does_not_count_against_a_recovered_variant():
    clock = Clock()
    breaker = Breaker(CircuitBreakerSpec(failure_threshold=1, cooldown_ms=100), clock=clock)
    stale = breaker.acquire()
    fail(breaker)
    clock.now += 0.2
    breaker.record(breaker.acquire(), True)
    breaker.record(stale, False)
    assert breaker.state is BreakerState.CLOSED


def test_a_released_call_is_neither_success_nor_failure():
    breaker = Breaker(CircuitBreakerSpec(failure_threshold=2, cooldown_ms=100), clock=Clock())
    fail(breaker)
    breaker.release(breaker.acquire())  # e.g. the model server refused the client's input (4xx)
    fail(breaker)
    assert breaker.state is BreakerState.OPEN, "a refused input reset the consecutive failures"


def test_failure_rate_opens_only_past_the_minimum_number_of_calls():
    clock = Clock()
    spec = CircuitBreakerSpec(
        failure_threshold=1000, cooldown_ms=100, failure_rate_percent=50, window_calls=10, minimum_calls=6
    )
    breaker = Breaker(spec, clock=clock)
    for ok in (False, False, True, False, True):
        breaker.record(breaker.acquire(), ok)
    assert breaker.state is BreakerState.CLOSED, "5 calls are fewer than the minimum of 6"
    breaker.record(breaker.acquire(), True)
    assert breaker.state is BreakerState.OPEN and breaker.failure_rate == 0.0


def test_a_steady_low_failure_rate_never_trips_the_rate_breaker():
    spec = CircuitBreakerSpec(
        failure_threshold=1000, cooldown_ms=100, failure_rate_percent=20, window_calls=100, minimum_calls=50
    )
    breaker = Breaker(spec, clock=Clock())
    for i in range(10_000):
        breaker.record(breaker.acquire(), i % 20 != 0)  # 5 % of calls fail, some back to back
        assert breaker.state is BreakerState.CLOSED
    assert breaker.failure_rate == pytest.approx(0.05)


def test_failures_of_calls_out_together_count_once_toward_the_threshold():
    """A burst of timeouts from calls in flight at once is one failure; a variant that keeps
    failing after it still opens the breaker, one counted failure per call sent after the last."""
    clock = Clock()
    breaker = Breaker(CircuitBreakerSpec(failureThreshold=3, cooldownMs=1000), clock=clock)
    sent = clock.now
    burst = [breaker.acquire() for _ in range(8)]  # eight calls out at once
    clock.now += 0.05
    for permit in burst:
        assert permit is not None
        breaker.record(permit, False, sent)
    assert breaker.state is BreakerState.CLOSED, "eight failures of one moment opened the breaker"
    for _ in range(2):  # each sent after the last counted failure, and failing again
        permit, sent = breaker.acquire(), clock.now
        clock.now += 0.05
        assert permit is not None
        breaker.record(permit, False, sent)
    assert breaker.state is BreakerState.OPEN
