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
    document = json.loads(prod_bytes)
    assert "ml-serving:gatewayTokens" in document["secretConfigKeys"]
    stack_text = (ROOT / "stacks" / "Pulumi.prod.yaml").read_text()
    ciphertext = yaml.safe_load(stack_text)["config"]["ml-serving:gatewayTokens"]["secure"]
    assert ciphertext.encode() not in prod_bytes


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
