"""Helpers of the stop tests: a real pseudo-terminal, a Makefile like the project's, and the
check that nothing of the platform is left."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from runtime.local.layout import REPO_ROOT
from tests.ports import is_free

__all__ = [
    "Terminal",
    "wait",
    "text",
    "tree",
    "nothing_left",
    "tiny_parts",
    "makefile",
    "spawn",
    "clean_up",
]

_SEEN: list[psutil.Process] = []
"""Every process ``tree`` returned: what ``clean_up`` stops if a test fails half-way."""


class Terminal:
    """A pseudo-terminal whose session runs ``command`` in bash, as typed at a prompt."""

    def __init__(self, command: str) -> None:
        self.master, slave = os.openpty()
        # setsid -c: a new session whose controlling terminal is this one, so ^C reaches its
        # foreground process group as it does in a real terminal.
        self.proc = subprocess.Popen(
            ["setsid", "-c", "bash", "-c", command],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=REPO_ROOT,
            close_fds=True,
        )
        os.close(slave)
        self.output = bytearray()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def close(self) -> None:
        clean_up(self.proc)
        os.close(self.master)


def wait(condition, timeout_s: float, what: str | Callable[[], str], output: Path | None = None):
    """``condition()`` once it is truthy; past the deadline an error saying ``what`` (a callable
    is asked then, to report what was last seen), with the end of what the process printed to
    ``output`` when given."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            said = f"; it printed:\n{text(output)[-3000:]}" if output is not None else ""
            raise AssertionError(f"{what() if callable(what) else what} within {timeout_s:g} s{said}")
        time.sleep(0.05)


def text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def tree(pid: int) -> list[psutil.Process]:
    """``pid`` and every process below it."""
    root = psutil.Process(pid)
    found = [root, *root.children(recursive=True)]
    _SEEN.extend(found)
    return found


def clean_up(*leaders: subprocess.Popen) -> None:
    """After a test, passed or not: stop its leaders as a person would (SIGTERM), then kill
    whatever of the processes it saw is still there, so a failure leaves nothing behind either."""
    for leader in leaders:
        if leader.poll() is None:
            leader.terminate()
            try:
                leader.wait(timeout=20)
            except subprocess.TimeoutExpired:
                leader.kill()
                leader.wait(timeout=10)
    left = [p for p in _SEEN if _running(p)]
    for process in left:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=10)
    _SEEN.clear()


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def command_line(process: psutil.Process) -> str:
    """The process's command line, or "" once it has exited (a zombie not yet reaped, or gone)."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return ""


def nothing_left(procs: list[psutil.Process], ports: list[int], timeout_s: float = 40.0) -> None:
    psutil.wait_procs([p for p in procs if _running(p)], timeout=timeout_s)
    left = [f"{p.pid} {command_line(p)[:120]}" for p in procs if _running(p)]
    assert left == [], "left running:\n" + "\n".join(left)
    for port in ports:
        assert is_free(port), f"port {port} is still taken"


def tiny_parts(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if "tiny_part.py" in command_line(p)]


def makefile(folder: Path, argv: list[str]) -> Path:
    """A Makefile whose ``up`` runs ``argv`` as the project's does (``@.venv/bin/python -m ...``)."""
    path = folder / "Makefile"
    path.write_text(f"up:\n\t@{shlex.join(argv)}\n")
    return path


def spawn(argv: list[str], output: Path) -> subprocess.Popen:
    """``argv`` as the leader of its own process group (as a CI runner starts a job)."""
    with output.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True)
