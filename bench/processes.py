"""Processes a benchmark starts, stopped whole: their trees, and whatever their trees orphaned.

Some peers are never one process (LitServe: a manager, an HTTP server, an inference worker;
Ray: GCS, raylet, dashboard, a proxy and replica workers, several in sessions of their own), and
SIGTERM to the process the bench started leaves the rest running. ``adopt_orphans`` makes the
bench a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), so a process whose parent exits is
re-parented to the bench instead of to init: ``stop_all``, the last sweep, then finds it among
the bench's descendants. ``on_signals`` turns SIGTERM and SIGHUP into ``SystemExit`` so that the
benchmark's ``finally`` runs for them as it does for Ctrl-C.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys

import psutil

from runtime.local.stopping import stop_descendants

__all__ = ["adopt_orphans", "on_signals", "stop_tree", "stop_all", "say", "pinned"]

_PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> bool:
    """Make orphaned descendants children of this process (Linux); False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def on_signals() -> None:
    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _stop(processes: list[psutil.Process], timeout_s: float) -> None:
    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


def stop_tree(process: subprocess.Popen, timeout_s: float = 20.0) -> None:
    """SIGTERM the process and every descendant (SIGKILL after ``timeout_s``), then reap it."""
    _stop(_tree(process.pid), timeout_s)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def stop_all(timeout_s: float = 20.0) -> None:
    """Stop every descendant of this process that is still running (the last sweep)."""
    stop_descendants(timeout_s, say=lambda line: print(f"[bench] {line.strip()}", file=sys.stderr))


def say(message: str) -> None:
    """A progress line of a benchmark, on standard error."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def pinned(cpu: str, command: list[str]) -> list[str]:
    """``command`` pinned to ``cpu`` with taskset, where taskset exists and there is more than one CPU."""
    return ["taskset", "-c", cpu, *command] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else command
