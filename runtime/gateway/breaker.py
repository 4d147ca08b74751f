"""A circuit breaker per variant: stop calling a failing variant for a cool-down, then probe.

Closed: calls pass; ``failure_threshold`` consecutive failures open it, and so does a failure
rate (``failure_rate_percent`` of the last ``window_calls`` calls, once ``minimum_calls`` were
made) when one is declared. Open: calls are refused at once for ``cooldown_ms``. Half-open: one
probe call passes; only its own result closes the breaker (success) or opens it for another
cool-down (failure).

Consecutive is in time, not in completions: a failure counts toward the threshold only if its
upstream call was sent after the last failure counted (``record``'s ``sent_at``), so calls that
were out together and fail together (a burst of timeouts while the variant was briefly
overloaded, with several upstream calls in flight) are one failure, not one each. Otherwise a
short overload with ``failure_threshold`` calls in flight opens the breaker in one go, and its
cool-down turns a moment of timeouts into seconds of refusals while the model server sits idle.
A variant that keeps failing still opens it: each call sent after a failure fails again. The
failure rate counts every call.

Every admitted call holds a ``Permit`` and ends with exactly one of ``record`` (the upstream
call's outcome) or ``release`` (no verdict: the caller went away, or the model server refused
the input). A permit taken before the breaker last opened is stale: its outcome says nothing
about the variant now, so it changes nothing; a slow success admitted while closed can never
close an open breaker and skip the cool-down.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from runtime.spec import CircuitBreakerSpec

__all__ = ["Breaker", "BreakerState", "Permit"]


class BreakerState(IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


@dataclass(frozen=True, slots=True)
class Permit:
    """One admitted call: the breaker's generation (it grows each time the breaker opens) and
    whether the call is the half-open probe."""

    generation: int
    probe: bool = False


class Breaker:
    def __init__(
        self,
        spec: CircuitBreakerSpec,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self._threshold = spec.failure_threshold
        self._cooldown_s = spec.cooldown_ms / 1000.0
        self._rate = spec.failure_rate_percent
        self._minimum = spec.minimum_calls
        self._window: deque[bool] = deque(maxlen=spec.window_calls)
        """Outcomes of the most recent calls while closed (True: failed)."""
        self._window_failures = 0
        self._clock = clock
        self._on_change = on_change
        self._consecutive = 0
        self._counted_at = float("-inf")
        """When the last failure counted toward ``failure_threshold`` was recorded."""
        self._opened_at = 0.0
        self._generation = 0
        self._probing = False
        self._state = BreakerState.CLOSED

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._cooldown_s:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def acquire(self) -> Permit | None:
        """A permit for one call to the variant now, or None (open, or the probe is out)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit(self._generation)
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return Permit(self._generation, probe=True)
        return None

    def record(self, permit: Permit, ok: bool, sent_at: float | None = None) -> None:
        """The outcome of the one upstream call ``permit`` was used for, sent at ``sent_at``
        (the breaker's clock; None: counts as sent after any earlier failure)."""
        if permit.generation != self._generation:
            return
        if permit.probe:
            self._probing = False
            if ok:
                self._close()
            else:
                self._open()
            return
        if self._state is not BreakerState.CLOSED:
            return
        if ok:
            self._consecutive = 0
        elif sent_at is None or sent_at >= self._counted_at:  # not out beside the last counted failure
            self._consecutive += 1
            self._counted_at = self._clock()
        if len(self._window) == self._window.maxlen and self._window[0]:
            self._window_failures -= 1
        self._window.append(not ok)
        self._window_failures += not ok
        if self._consecutive >= self._threshold or self._rate_exceeded():
            self._open()

    def release(self, permit: Permit) -> None:
        """The call ended with no verdict on the variant; a probe's slot is freed for the next."""
        if permit.probe and permit.generation == self._generation:
            self._probing = False

    @property
    def failure_rate(self) -> float:
        """Failed share of the calls in the window (0 when empty)."""
        return self._window_failures / len(self._window) if self._window else 0.0

    def _rate_exceeded(self) -> bool:
        return self._rate is not None and len(self._window) >= self._minimum and self.failure_rate * 100 >= self._rate

    def _open(self) -> None:
        self._generation += 1
        self._opened_at = self._clock()
        self._reset()
        self._set(BreakerState.OPEN)

    def _close(self) -> None:
        self._reset()
        self._set(BreakerState.CLOSED)

    def _reset(self) -> None:
        self._consecutive = 0
        self._counted_at = float("-inf")
        self._window.clear()
        self._window_failures = 0
        self._probing = False

    def _set(self, state: BreakerState) -> None:
        self._state = state
        if self._on_change is not None:
            self._on_change(state)
