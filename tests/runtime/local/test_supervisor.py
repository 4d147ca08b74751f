from __future__ import annotations

import os
import signal
import socket
import time

import psutil
import pytest

from runtime.local.process import PartFailed, PortInUse
from runtime.local.supervisor import Supervisor

_BEFORE: set[int] = set()


@pytest.fixture(autouse=True)
def _only_this_tests_processes():
    """Other suites keep session servers (MLflow, conformance peers) below pytest: a test here
    judges only the processes that appeared while it ran."""
    _BEFORE.clear()
    _BEFORE.update(p.pid for p in psutil.Process(os.getpid()).children(recursive=True))
    yield


def _descendants() -> list[psutil.Process]:
    return [p for p in psutil.Process(os.getpid()).children(recursive=True) if p.pid not in _BEFORE]


def _gone(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _wait_for(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.05)


def test_start_waits_until_ready_and_stop_leaves_nothing(tmp_path, tiny_part) -> None:
    said: list[str] = []
    first, second = tiny_part("alpha", "--worker"), tiny_part("beta")
    supervisor = Supervisor(tmp_path, say=said.append, poll_s=0.05)
    supervisor.start([first, second])
    with socket.create_connection(("127.0.0.1", first.port), timeout=2):
        pass  # already listening when start() returns
    started = _descendants()
    assert len(started) >= 3, "two parts and the worker one of them forked"
    assert any("alpha ready in" in line for line in said) and any("beta ready in" in line for line in said)
    supervisor.stop()
    assert _gone(started) == []


def test_failed_start_is_reported_with_log_tail_and_the_rest_stopped(tmp_path, tiny_part) -> None:
    good, bad = tiny_part("good"), tiny_part("bad", "--fail", "boom: no model at models:/fraud/9")
    supervisor = Supervisor(tmp_path, say=lambda _: None, poll_s=0.05)
    with pytest.raises(PartFailed) as caught:
        supervisor.start([good, bad])
    message = str(caught.value)
    assert message.startswith("bad failed to start: exited with code 3")
    assert "boom: no model at models:/fraud/9" in message
    assert str(tmp_path / "bad.log") in message
    assert _gone(_descendants()) == []


def test_part_not_ready_by_its_deadline_fails(tmp_path, tiny_part, free_port) -> None:
    # Listens on another port than the one it is checked on: never ready.
    spec = tiny_part("deaf", port=free_port())
    spec = type(spec)(**{**spec.__dict__, "port": free_port()})
    supervisor = Supervisor(tmp_path, say=lambda _: None, ready_timeout_s=1.0, poll_s=0.05)
    with pytest.raises(PartFailed, match=r"deaf failed to start: not ready after 1 s"):
        supervisor.start([spec])
    assert _gone(_descendants()) == []


def test_port_in_use_is_refused_before_anything_starts(tmp_path, tiny_part) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = tiny_part("drift monitor", port=listener.getsockname()[1])
        supervisor = Supervisor(tmp_path, say=lambda _: None)
        with pytest.raises(PortInUse, match="drift monitor needs it"):
            supervisor.start([tiny_part("other"), taken])
    assert _descendants() == []


def test_dead_part_is_restarted_with_backoff(tmp_path, tiny_part) -> None:
    said: list[str] = []
    steady, flaky = tiny_part("steady"), tiny_part("flaky", "--exit-after", "0.2")
    supervisor = Supervisor(
        tmp_path, say=said.append, poll_s=0.05, backoff_initial_s=0.1, backoff_max_s=0.4, stable_after_s=60
    )
    try:
        supervisor.start([steady, flaky])
        supervisor.watch()
        old_pid = next(s.pid for s in supervisor.status() if s.name == "steady")
        os.kill(old_pid, signal.SIGKILL)
        _wait_for(lambda: any(s.name == "flaky" and s.restarts >= 4 for s in supervisor.status()))
        _wait_for(
            lambda: any(s.name == "steady" and s.state == "ready" and s.pid != old_pid for s in supervisor.status())
        )
    finally:
        supervisor.stop()
    waits = [line.split("restarting in ")[1].split(" s")[0] for line in said if line.startswith("  flaky exited")]
    assert waits[:4] == ["0.1", "0.2", "0.4", "0.4"], said
    assert any(line.startswith("  steady exited with code -9; restarting in 0.1 s") for line in said), said
    assert any("steady ready again in" in line for line in said), said
    assert any("tiny part exits on purpose" in line for line in said), "the report quotes the part's log"
    assert _gone(_descendants()) == []


def test_a_part_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path, tiny_part) -> None:
    said: list[str] = []
    supervisor = Supervisor(tmp_path, say=said.append, grace_s=0.5, poll_s=0.05)
    supervisor.start([tiny_part("stubborn", "--ignore-term")])
    started = _descendants()
    began = time.monotonic()
    supervisor.stop()
    assert time.monotonic() - began < 5
    assert any("stubborn did not stop within 0.5 s; killing it" in line for line in said)
    assert _gone(started) == []
