"""How the local platform stops: on Ctrl-C, SIGTERM or a closed terminal, once or twice, with
its output on a terminal or through a pipe, and leaves nothing behind.

Signal handlers never raise: they note the signal and wake the main thread, which stops the
platform in order (a second signal cannot cut that short, because nothing is raised into it).
Start-up runs in its own thread so that a signal during it is handled the same way: the
supervisor refuses to launch anything once stopping, and waits on readiness give up. Output goes
through ``Console``, which outlives its reader: with ``make up 2>&1 | tee log``, Ctrl-C kills
``tee`` first, and a print to the dead pipe must not abort the shutdown. Last, whatever this
process still has below it (a training run, a worker whose part died) is stopped too.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol, TextIO

import psutil

__all__ = [
    "Console",
    "StopSignals",
    "Stoppable",
    "interrupt_on_stop_signals",
    "serve",
    "stop_descendants",
    "STOP_SIGNALS",
    "Wake",
]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Console:
    """``print`` that never raises: once its stream is gone (EPIPE, or EIO from a closed
    terminal), standard output and error are pointed at ``/dev/null`` and printing goes on."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.lost = False

    def __call__(self, line: str = "") -> None:
        if self.lost:
            return
        try:
            print(line, file=self.stream, flush=True)
        except (OSError, ValueError):  # BrokenPipeError, EIO; ValueError: the stream was closed
            self._lose()

    def _lose(self) -> None:
        self.lost = True
        # The interpreter flushes stdout again at exit; on a dead pipe that would fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            try:
                os.dup2(devnull, fd)
            except OSError:
                pass
        os.close(devnull)


class Wake:
    """``threading.Event``'s ``set``, ``clear``, ``is_set`` and ``wait``, over a re-entrant lock.

    A Python signal handler runs in the main thread between two of its bytecodes, and that may be
    inside ``wait`` or ``clear`` while the main thread holds the event's lock. ``Event`` guards
    its flag with a plain ``Lock``, so a handler calling its ``set`` there blocks on a lock its
    own thread holds, and the main thread never runs again. The start-up thread then went on
    training models, and nothing ever stopped (seen once in CI). With an ``RLock`` the handler
    takes the lock it already holds, sets the flag and returns. A wait it interrupted may then
    miss the notification, but its timeout ends it and the caller reads the flag."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with self._cond:
            self._flag = True
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            if not self._flag:
                self._cond.wait(timeout)
            return self._flag


class StopSignals:
    """Notes SIGINT, SIGTERM and SIGHUP and wakes whoever waits; never raises into the program."""

    def __init__(self) -> None:
        self.wake = Wake()
        self.received: list[int] = []

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        self.wake.set()

    @property
    def stopping(self) -> bool:
        return bool(self.received)

    def first(self) -> str:
        return signal.Signals(self.received[0]).name if self.received else ""


def interrupt_on_stop_signals() -> None:
    """For a batch job (not a server): SIGTERM and SIGHUP raise ``KeyboardInterrupt`` as Ctrl-C
    does, once, so that its ``with``/``finally`` blocks stop what it started. Later signals are
    ignored: they cannot cut the clean-up short. Call it from the main thread."""

    def interrupt(signum: int, frame: object) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in STOP_SIGNALS:
        signal.signal(sig, interrupt)


class Stoppable(Protocol):
    def up(self) -> None: ...
    def down(self) -> None: ...


def stop_descendants(grace_s: float = 10.0, say: Callable[[str], None] = print) -> list[psutil.Process]:
    """SIGTERM every process below this one, SIGKILL what outlives ``grace_s``; returns what is left."""
    try:
        below = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    for process in below:
        try:
            process.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(below, timeout=grace_s)
    if alive:
        say(f"  {len(alive)} process(es) did not stop within {grace_s:g} s; killing them")
        for process in alive:
            try:
                process.kill()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(alive, timeout=5)
    return alive


def serve(
    platform: Stoppable,
    say: Callable[[str], None],
    signals: StopSignals,
    ready: Callable[[], None] = lambda: None,
    grace_s: float = 10.0,
    until_stopped: bool = True,
) -> int:
    """Start ``platform`` (in a thread), call ``ready`` once it is up, run until a signal (or,
    with ``until_stopped`` false, until ``up`` returns), stop it.

    Returns 0 after a stop by signal, 1 when start-up failed (its error is printed)."""
    failure: list[BaseException] = []
    started = threading.Event()

    def start() -> None:
        try:
            platform.up()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)
        finally:
            started.set()
            signals.wake.set()

    thread = threading.Thread(target=start, name="start-up", daemon=True)
    thread.start()
    while not signals.stopping and not started.is_set():
        signals.wake.wait(0.5)
        signals.wake.clear()
    code = 0
    if not signals.stopping and failure:
        message = getattr(failure[0], "message", None) or f"{type(failure[0]).__name__}: {failure[0]}"
        say(f"error: {message}")
        code = 1
    elif not signals.stopping:
        ready()
        while until_stopped and not signals.stopping:
            signals.wake.wait(1.0)
            signals.wake.clear()
    if signals.stopping:
        say(f"\nstopping ({signals.first()}) ...")
    began = time.monotonic()
    platform.down()
    left = stop_descendants(grace_s, say)  # a job start-up was waiting on (training), and strays
    thread.join(timeout=grace_s)
    if left:
        say(f"could not stop: {', '.join(f'{p.pid}' for p in left)}")
        return code or 1
    if signals.stopping:
        say(f"stopped in {time.monotonic() - began:.1f} s; nothing left running.")
    return code
