"""The tests' ports: below the ephemeral range, apart per worker, never handed out twice in a row."""

from __future__ import annotations

import socket

from tests import ports


def test_each_worker_has_its_own_slice_below_the_ephemeral_range(monkeypatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    slices = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        slices.append(ports.worker_slice())
    first, second = slices
    assert first.stop <= second.start and len(first) >= 1_000 and len(second) >= 1_000
    ephemeral = ports.ephemeral_range()
    for taken in slices:
        assert taken.stop <= ephemeral.start or taken.start >= ephemeral.stop, (taken, ephemeral)


def test_runs_are_consecutive_free_and_not_repeated_before_they_are_bound() -> None:
    handed = [ports.free_ports(6) for _ in range(50)]
    for run in handed:
        assert run == list(range(run[0], run[0] + 6)) and all(ports.is_free(p) for p in run)
        assert run[0] in ports.worker_slice() and run[-1] in ports.worker_slice()
    every = [p for run in handed for p in run]
    assert len(set(every)) == len(every), "a port was handed out twice"


def test_a_taken_port_is_skipped(monkeypatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports.free_port()))
        holder.listen()
        taken = holder.getsockname()[1]
        assert not ports.is_free(taken)
        monkeypatch.setattr(ports, "_cursor", taken - 2)  # the next run of four would hold it
        base = ports.free_run(4)
        assert taken not in range(base, base + 4)
