"""The policy pack boots as Pulumi starts it and answers the analyzer protocol with the rules."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.catalog import RULES
from policies.pack import policies
from runtime.spec import read_stack_config, stack_file, validate_config
from runtime.wiring import GatewayConfig

ROOT = Path(__file__).resolve().parents[2]
RDS = "aws:rds/instance:Instance"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def test_every_rule_but_the_stack_file_rules_becomes_a_policy():
    names = [p.name for p in policies()]
    assert names == [r.name for r in RULES if r.kind != "file"]


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"the policy pack printed no port within {timeout} s")


@pytest.fixture(scope="module")
def analyzer():
    # Pulumi runs the pack's __main__.py from the pack folder.
    with subprocess.Popen(
        [sys.executable, "-u", "__main__.py"], cwd=ROOT / "policies", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
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


def _struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:prod::ml-serving::{resource_type}::{name}"


def test_pack_lists_its_policies(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "ml-serving"
    assert [p.name for p in info.policies] == [p.name for p in policies()]


def test_pack_reports_a_resource_violation(analyzer):
    request = analyzer_pb2.AnalyzeRequest(
        type=RDS, name="mlflow-db", urn=_urn(RDS, "mlflow-db"), properties=_struct({"storageEncrypted": False})
    )
    diagnostics = analyzer.Analyze(request).diagnostics
    assert [d.policyName for d in diagnostics] == ["rds-encrypted-private"]
    assert "storageEncrypted" in diagnostics[0].message


def test_pack_reports_a_spec_violation_from_the_gateway_config(analyzer):
    config, _ = read_stack_config(stack_file("prod"))
    fraud = config["ml-serving:models"]["fraud"]["variants"]
    fraud[0]["weight"], fraud[1]["weight"] = 40, 60
    models = validate_config(config, "prod").models
    gateway = GatewayConfig(stack="prod", models=models, endpoints={}).model_dump_json(by_alias=True)
    resource = analyzer_pb2.AnalyzerResource(
        type=CONFIG_MAP, name="gateway-config", urn=_urn(CONFIG_MAP, "gateway-config"), properties=_struct({"data": {"gateway.json": gateway}})
    )
    diagnostics = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[resource])).diagnostics
    assert {d.policyName for d in diagnostics} == {"canary-weight-max"}
    assert "60%" in diagnostics[0].message and json.loads(gateway)["stack"] == "prod"
