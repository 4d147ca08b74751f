"""The policy pack boots as Pulumi starts it and answers the analyzer protocol with the rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from policies.catalog import RULES
from policies.pack import policies
from runtime.spec import read_stack_config, stack_file, validate_config
from runtime.wiring import GatewayConfig
from tests.policies.packs import running_pack

ROOT = Path(__file__).resolve().parents[2]
RDS = "aws:rds/instance:Instance"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def test_every_rule_becomes_a_policy():
    assert [p.name for p in policies()] == [r.name for r in RULES]


@pytest.fixture(scope="module")
def analyzer():
    # Pulumi runs the pack's __main__.py from the pack folder.
    with running_pack([sys.executable, "-u", "__main__.py"]) as stub:
        yield stub


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
    request = analyzer_pb2.AnalyzeRequest(
        type=CONFIG_MAP,
        name="gateway-config",
        urn=_urn(CONFIG_MAP, "gateway-config"),
        properties=_struct({"data": {"gateway.json": gateway}}),
    )
    diagnostics = analyzer.Analyze(request).diagnostics
    assert {d.policyName for d in diagnostics} == {"canary-weight-max"}
    assert "60%" in diagnostics[0].message and json.loads(gateway)["stack"] == "prod"
