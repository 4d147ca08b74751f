"""Real parts the cluster's MLflow path runs against here: PostgreSQL (Debian's package) and an
S3-compatible endpoint (moto's server), each on a free loopback port, stopped on exit."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import httpx

from tests.ports import free_port

__all__ = ["postgres", "s3_server", "s3_client", "stop", "wait_until"]

_POSTGRES_USER = "postgres"  # the account Debian's package creates; the server refuses to run as root


def wait_until(
    ready, what: str, timeout_s: float, process: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace') if log else ''}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{what} not ready within {timeout_s:g} s:\n{log.read_text(errors='replace') if log else ''}"
            )
        time.sleep(0.1)


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package (scripts/ensure-tools.sh does)")
    return path


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", _POSTGRES_USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres(user: str, password: str, database: str) -> Iterator[tuple[str, int]]:
    """A throwaway PostgreSQL with ``user`` (password auth over TCP) owning ``database``; yields (host, port)."""
    folder = Path(tempfile.mkdtemp(prefix="ml-serving-pg-"))
    data, log, port = folder / "data", folder / "postgres.log", free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, _POSTGRES_USER)
    run = lambda *cmd: subprocess.run(_as_postgres(list(cmd)), check=True, capture_output=True, text=True, timeout=60)  # noqa: E731
    try:
        run(_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
        run(_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "30", "start")
        psql = [_binary("psql"), "-h", str(folder), "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
        run(
            *psql,
            "-c",
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}'",
            "-c",
            f"CREATE DATABASE {database} OWNER {user}",
        )
        yield "127.0.0.1", port
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def s3_server(folder: Path) -> Iterator[str]:
    """moto's S3-compatible server; yields its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "moto.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/moto-api/", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, "moto server", 30, process, log)
        yield url
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout_s: float = 20) -> None:
    """SIGTERM, then SIGKILL once ``timeout_s`` has passed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
