"""The offline render: valid, deterministic JSON; clear errors for bad stacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "components.render", *args], capture_output=True, cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def prod_bytes() -> bytes:
    result = run_render("--stack", "prod")
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_render_prints_one_json_document(stack):
    result = run_render("--stack", stack)
    assert result.returncode == 0, result.stderr.decode()
    document = json.loads(result.stdout)
    assert document["stack"] == stack
    assert document["resources"], "the render lists no resource"
    for resource in document["resources"]:
        assert {"type", "name", "parent", "inputs"} <= set(resource), resource


def test_render_is_deterministic(prod_bytes):
    again = run_render("--stack", "prod")
    assert again.returncode == 0
    assert again.stdout == prod_bytes


def test_secrets_render_as_placeholders(prod_bytes):
    # The shipped stack file does not hold the secret yet: the render still works, without plaintext.
    document = json.loads(prod_bytes)
    assert "ml-serving:gatewayTokens" in document["secretConfigKeys"]
    assert document["unsetSecrets"] == ["ml-serving:gatewayTokens"]
    tokens = next(r for r in document["resources"] if r["name"] == "gateway-tokens")
    assert "[secret]" in json.dumps(tokens["inputs"]), tokens["urn"]


def test_unknown_stack_exits_2_without_traceback():
    result = run_render("--stack", "nope")
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "unknown stack 'nope'" in stderr
    assert "Traceback" not in stderr
    assert result.stdout == b""


def test_invalid_stack_exits_2_one_line_per_problem(tmp_path):
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    fraud = config["config"]["ml-serving:models"]["fraud"]
    fraud["variants"][1]["weight"] = 30
    config["config"]["ml-serving:models"]["recommender"]["latencyBudgetMs"] = "fast"
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(config))
    result = run_render("--stack", "bad", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 2, lines
    assert any("ml-serving:models.recommender.latencyBudgetMs" in line for line in lines)
    assert any("ml-serving:models.fraud.variants: weights" in line for line in lines)
    assert "Traceback" not in result.stderr.decode()


def test_stack_rules_the_components_build_on_exit_2_naming_each_key(tmp_path):
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    platform = config["config"]["ml-serving:platform"]
    platform["cluster"]["nodeAutoscaler"] = "karpenter"
    platform["mlflow"].update(backend="sqlite", replicas=2)
    (tmp_path / "Pulumi.rules.yaml").write_text(yaml.safe_dump(config))
    result = run_render("--stack", "rules", "--stacks-dir", str(tmp_path))
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in stderr, lines
    assert any("ml-serving:platform.cluster.nodeAutoscaler: input should be 'cluster-autoscaler'" in x for x in lines)
    assert any("ml-serving:platform.mlflow.replicas: the sqlite backend takes one replica" in x for x in lines)


def test_a_missing_required_secret_fails_the_program_naming_key_and_command():
    result = run_render("--stack", "prod", "--require-secrets")
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert (
        "error: stacks/Pulumi.prod.yaml: ml-serving:gatewayTokens: required secret is not set; set it with "
        "`pulumi config set --secret ml-serving:gatewayTokens <value> --stack prod`"
    ) in stderr
    assert "Traceback" not in stderr and result.stdout == b""


def test_a_set_secret_satisfies_the_program(tmp_path):
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    document["config"]["ml-serving:gatewayTokens"] = {"secure": "v1:AAAAAAAAAAAAAAAA:c2VhbGVkIGJ5IGttcw=="}
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    for lock in (ROOT / "stacks").glob("models.prod.lock.json"):
        (tmp_path / lock.name).write_bytes(lock.read_bytes())
    result = run_render("--stack", "prod", "--stacks-dir", str(tmp_path), "--require-secrets")
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["unsetSecrets"] == []
