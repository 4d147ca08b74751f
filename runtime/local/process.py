"""One supervised process: how it is started, checked, and stopped with everything it spawned.

Each part runs in its own process group (its own session), so stopping it reaches the workers it
forks too (MLflow's server runs uvicorn workers in child processes).
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from runtime.local.errors import PartFailed, PortInUse

__all__ = [
    "PartSpec",
    "PartFailed",
    "PortInUse",
    "check_port_free",
    "launch",
    "log_tail",
    "is_ready",
    "signal_group",
    "group_alive",
]


@dataclass(frozen=True)
class PartSpec:
    """A part of the platform: a command, the port it listens on and how to tell it is ready."""

    name: str
    argv: tuple[str, ...]
    host: str
    port: int
    ready_path: str
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    port_hint: str = ""
    """How to choose another port, shown when the port is taken."""

    @property
    def ready_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.ready_path}"

    @property
    def log_name(self) -> str:
        return self.name.replace(" ", "-").replace("/", "-") + ".log"


def check_port_free(spec: PartSpec) -> None:
    family = socket.AF_INET6 if ":" in spec.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR, as servers set it: a port in TIME_WAIT is free, a listening one is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((spec.host, spec.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(spec) from None
            raise


def launch(spec: PartSpec, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **spec.env}
    with log_path.open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {spec.name}: {' '.join(spec.argv)}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(spec.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=spec.cwd,
            start_new_session=True,
        )


def log_tail(path: Path, lines: int = 20, max_bytes: int = 64_000) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def is_ready(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still counts for killpg; it is gone once reaped, which Popen.poll() does.
    return True
