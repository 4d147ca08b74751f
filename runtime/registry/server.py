"""A throwaway MLflow registry on loopback: SQLite backend and a local artifact folder.

Used to seed the shipped model locks and by the tests; the local platform runs its own
long-lived MLflow under its supervisor.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["local_registry", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def local_registry(
    folder: Path,
    timeout_s: float = 90.0,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Start ``mlflow server`` with its state in ``folder``, on ``port`` (a free one when not
    given); yield its tracking URI; stop it. ``extra_args`` and ``env`` go to the server (e.g.
    ``--app-name basic-auth`` and its settings)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        *extra_args,
    ]
    log = (folder / "mlflow-server.log").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})}
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(url):
            if process.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited with {process.returncode}; see {folder / 'mlflow-server.log'}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"mlflow server at {url} not healthy within {timeout_s:g} s; see {folder / 'mlflow-server.log'}"
                )
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its workers: it runs in a process group of its own."""
    # Keep-alive connections can hold uvicorn past SIGTERM; a throwaway registry loses nothing to SIGKILL.
    for sig, wait_s in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
