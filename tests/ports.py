"""Ports for the servers the tests start: found free outside the kernel's ephemeral range (below
it, else above), in a slice of their own for each test worker.

A port found free by binding port 0 is in the ephemeral range, and stays free only until the
server binds it, often seconds later in another process. Meanwhile any process may be handed
it: the other worker's servers on port 0 and every outgoing connection of the machine take
their ports from that range. Twice a run of ``make test`` lost a port so (42998 to a server of
the other worker; a model server's port, the one after the base, to a connection). Below the
range only explicit binds take ports, and the workers' slices keep theirs apart. Within a
process the ports are handed out in turn, so two calls do not give the same port before its
server has bound it.
"""

from __future__ import annotations

import os
import random
import socket
import threading
from pathlib import Path

LOWEST = 20_000
_lock = threading.Lock()
_cursor: int | None = None


def ephemeral_range() -> range:
    """The ports the kernel hands out for port 0 and outgoing connections."""
    try:
        low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[:2])
    except (OSError, ValueError):
        low, high = 32_768, 60_999  # Linux's default
    return range(low, high + 1)


def _outside_ephemeral() -> range:
    """Ports no outgoing connection takes: below the ephemeral range, else above it."""
    ephemeral = ephemeral_range()
    if ephemeral.start - LOWEST >= 2_000:
        return range(LOWEST, ephemeral.start)
    if 65_536 - ephemeral.stop >= 2_000:
        return range(ephemeral.stop, 65_536)
    raise RuntimeError(
        f"the ephemeral port range {ephemeral.start}-{ephemeral.stop - 1} leaves no 2,000 ports outside it for"
        " the tests' servers (/proc/sys/net/ipv4/ip_local_port_range)"
    )


def worker_slice() -> range:
    """The ports this test worker chooses from: its share of those outside the ephemeral range."""
    ports = _outside_ephemeral()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1))
    width = len(ports) // max(workers, index + 1)
    return range(ports.start + index * width, ports.start + (index + 1) * width)


def is_free(port: int) -> bool:
    """Whether a server (which sets SO_REUSEADDR, as uvicorn and grpc do) could bind ``port``."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_run(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    global _cursor
    ports = worker_slice()
    with _lock:
        if _cursor is None:
            _cursor = random.randrange(ports.start, ports.stop)
        for _ in range(len(ports)):
            base = _cursor if ports.start <= _cursor <= ports.stop - count else ports.start
            _cursor = base + count
            if all(is_free(base + i) for i in range(count)):
                return base
    raise RuntimeError(f"no {count} consecutive free ports in {ports.start}-{ports.stop - 1}")


def free_port() -> int:
    return free_run(1)


def free_ports(count: int) -> list[int]:
    """``count`` free ports (consecutive: a model-server base port may take the ones after it)."""
    base = free_run(count)
    return list(range(base, base + count))
