"""The real processes of the conformance suite: the model server (echo model) and a gateway in front.

Both serve REST and gRPC on free loopback ports and stop when the module's tests are done
(tests that check for leftover processes run later in the same session). Each test hands its
rows of the matrix (client x target x case) to the session as a user property, which reaches the
terminal summary whichever worker ran it (tests/conftest.py prints it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime.spec import ModelSpec
from runtime.wiring import GatewayConfig, VariantEndpoint
from tests.conformance.echo_model import save_echo_model
from tests.ports import free_port
from tests.runtime.modelserver.servers import REPO, Server, wait_ready


@dataclass
class Target:
    name: str
    rest: str
    grpc: str

    @property
    def arg(self) -> str:
        return f"{self.name}={self.rest},{self.grpc}"


def _start(command: list[str], log: Path, rest: str) -> Server:
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)
    wait_ready(process, rest, log, timeout=120)
    return Server(process, rest, log)


@pytest.fixture(scope="module")
def targets(tmp_path_factory) -> Iterator[list[Target]]:
    root = tmp_path_factory.mktemp("conformance")
    model_dir = save_echo_model(root / "echo")
    http, grpc = free_port(), free_port()
    server = Target("modelserver", f"http://127.0.0.1:{http}", f"127.0.0.1:{grpc}")
    command = [sys.executable, "-m", "runtime.modelserver", "--model_name", "echo", "--model_dir", str(model_dir)]
    processes = [
        _start([*command, "--http_port", str(http), "--grpc_port", str(grpc)], root / "modelserver.log", server.rest)
    ]
    try:
        spec = ModelSpec.model_validate(
            {"variants": [{"model": "models:/echo/1", "role": "primary", "weight": 100}], "latencyBudgetMs": 5000}
        )
        endpoints = {spec.primary.variant_name: VariantEndpoint(url=server.rest, model_name="echo")}
        config = GatewayConfig(
            stack="conformance", models={"echo": spec}, endpoints={"echo": endpoints}, auth_required=False
        )
        (root / "gateway.json").write_text(config.model_dump_json(by_alias=True))
        http, grpc = free_port(), free_port()
        gateway = Target("gateway", f"http://127.0.0.1:{http}", f"127.0.0.1:{grpc}")
        command = [
            sys.executable,
            "-m",
            "runtime.gateway",
            "--config",
            str(root / "gateway.json"),
            "--host",
            "127.0.0.1",
        ]
        processes.append(
            _start([*command, "--port", str(http), "--grpc-port", str(grpc)], root / "gateway.log", gateway.rest)
        )
        yield [server, gateway]
    finally:
        for process in reversed(processes):
            process.stop()
