"""Start the policy pack as the CLI does and talk to it over its analyzer gRPC service."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import grpc
import pytest
from pulumi.runtime.proto import analyzer_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    stdout = process.stdout
    if stdout is None:
        pytest.fail("the policy pack was started without a stdout pipe")
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"the policy pack printed no port within {timeout} s")


@contextlib.contextmanager
def running_pack(command: list[str], env: Mapping[str, str] | None = None) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """Run ``command`` in the pack folder (where Pulumi runs packs); yield a stub on the port it prints."""
    with subprocess.Popen(
        command, cwd=ROOT / "policies", env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            port = _first_line(process, timeout=60).strip()
            assert port.isdigit(), f"expected the analyzer's port on the first line, got {port!r}"
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=30)
                yield analyzer_pb2_grpc.AnalyzerStub(channel)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
