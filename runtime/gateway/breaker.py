"""A circuit breaker per variant: stop calling a failing variant for a cool-down, then probe.

Closed: calls pass; ``failure_threshold`` consecutive failures open it. Open: calls are refused
at once for ``cooldown_ms``. Half-open: one probe call passes; its success closes the breaker,
its failure opens it for another cool-down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum

from runtime.spec import CircuitBreaker as BreakerSpec

__all__ = ["Breaker", "BreakerState"]


class BreakerState(IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class Breaker:
    def __init__(
        self,
        spec: BreakerSpec,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self._threshold = spec.failure_threshold
        self._cooldown_s = spec.cooldown_ms / 1000.0
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._state = BreakerState.CLOSED

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._cooldown_s:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def allow(self) -> bool:
        """Whether a call may go to the variant now (a half-open breaker lets one probe through)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state is not BreakerState.CLOSED:
            self._set(BreakerState.CLOSED)

    def failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self._probing = False
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)

    def release(self) -> None:
        """A probe ended with neither success nor failure (e.g. the client went away)."""
        self._probing = False

    def _set(self, state: BreakerState) -> None:
        self._state = state
        if self._on_change is not None:
            self._on_change(state)
