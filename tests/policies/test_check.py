"""The offline checker: the shipped prod stack passes; edited copies fail naming the rule."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pulumi_policy import EnforcementLevel

from policies.check import LoadedStack, evaluate
from policies.rule import PolicyConfig
from runtime.spec import read_stack_config, stack_file, validate_config

ROOT = Path(__file__).resolve().parents[2]


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "policies.check", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def edited_stacks(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the whole stacks folder (lock files included) with one edit to the prod stack."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks)
    path = stacks / "Pulumi.prod.yaml"
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in the prod stack exactly once"
    path.write_text(text.replace(old, new))
    return stacks


def test_shipped_prod_stack_passes():
    result = run_check("--stack", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[mandatory]" not in result.stdout


@pytest.mark.parametrize(
    "old, new, rule",
    [
        (
            '{model: "models:/fraud/5", role: primary, weight: 90}\n        - {model: "models:/fraud/6", role: canary, weight: 10}',
            '{model: "models:/fraud/5", role: primary, weight: 40}\n        - {model: "models:/fraud/6", role: canary, weight: 60}',
            "canary-weight-max",
        ),
        ('      fallback: {value: "popular-items"}\n', "", "fallback-required"),
        (
            "  aws:region: us-west-2\n",
            "  aws:region: us-west-2\n  aws:secretKey: wJalrXUtnFEMIK7MDENG\n",
            "no-plaintext-secrets",
        ),
    ],
    ids=["canary-60", "no-fallback", "plaintext-secret-key"],
)
def test_edited_prod_stack_fails_naming_the_rule(tmp_path, old, new, rule):
    result = run_check("--stack", "prod", "--stacks-dir", str(edited_stacks(tmp_path, old, new)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"[mandatory] {rule}: " in result.stdout
    assert "Traceback" not in result.stderr
    assert "wJalrXUtnFEMIK7MDENG" not in result.stdout


def test_stack_that_fails_to_load_exits_2(tmp_path):
    stacks = edited_stacks(tmp_path, "latencyBudgetMs: 50", "latencyBudgetMs: -5")
    result = run_check("--stack", "prod", "--stacks-dir", str(stacks))
    assert result.returncode == 2
    assert "ml-serving:models.fraud.latencyBudgetMs" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_unknown_stack_exits_2():
    result = run_check("--stack", "nope")
    assert result.returncode == 2 and "unknown stack 'nope'" in result.stderr


def test_resource_rules_run_over_the_render_document():
    config, secrets = read_stack_config(stack_file("prod"))
    bucket_urn = "urn:pulumi:prod::ml-serving::aws:s3/bucket:Bucket::artifacts"
    document = {
        "resources": [
            {
                "type": "aws:s3/bucket:Bucket",
                "name": "artifacts",
                "urn": bucket_urn,
                "parent": None,
                "custom": True,
                "inputs": {},
            },
            {
                "type": "aws:s3/bucketVersioning:BucketVersioning",
                "name": "artifacts-versioning",
                "urn": "urn:pulumi:prod::ml-serving::aws:s3/bucketVersioning:BucketVersioning::artifacts-versioning",
                "parent": None,
                "custom": True,
                "inputs": {"bucket": "artifacts-id", "versioningConfiguration": {"status": "Enabled"}},
            },
            {
                "type": "aws:rds/instance:Instance",
                "name": "mlflow-db",
                "urn": "urn:pulumi:prod::ml-serving::aws:rds/instance:Instance::mlflow-db",
                "parent": None,
                "custom": True,
                "inputs": {"storageEncrypted": True, "publiclyAccessible": True},
            },
        ]
    }
    loaded = LoadedStack(
        "prod",
        stack_file("prod"),
        "stacks/Pulumi.prod.yaml",
        config,
        frozenset(secrets),
        validate_config(config, "prod"),
        document,
        yaml.safe_load(stack_file("prod").read_text()),
    )
    violations = evaluate(loaded, PolicyConfig({"all": "mandatory"}))
    found = sorted((v.rule, v.resource) for v in violations)
    assert found == [
        ("rds-encrypted-private", "urn:pulumi:prod::ml-serving::aws:rds/instance:Instance::mlflow-db"),
        # AWS resources but no gateway: the rollout rules would have nothing to judge.
        ("rollout-spec-found", "stacks/Pulumi.prod.yaml"),
        ("s3-bucket-secure", bucket_urn),
        ("s3-bucket-secure", bucket_urn),
    ], found
    assert all(v.level is EnforcementLevel.MANDATORY for v in violations)
    advisory = evaluate(loaded, PolicyConfig({"rds-encrypted-private": "disabled"}))
    assert {v.rule for v in advisory} == {"s3-bucket-secure", "rollout-spec-found"}


@pytest.fixture(scope="module")
def prod_render() -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "components.render", "--stack", "prod"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _loaded(document: dict) -> LoadedStack:
    config, secrets = read_stack_config(stack_file("prod"))
    return LoadedStack(
        "prod",
        stack_file("prod"),
        "stacks/Pulumi.prod.yaml",
        config,
        frozenset(secrets),
        validate_config(config, "prod"),
        document,
        yaml.safe_load(stack_file("prod").read_text()),
    )


def test_rules_see_the_platform_in_the_real_render(prod_render):
    assert not evaluate(_loaded(prod_render), PolicyConfig({"all": "mandatory"}))
    broken = copy.deepcopy(prod_render)
    broken["resources"] = [r for r in broken["resources"] if not r["type"].startswith("aws:s3/bucketVersioning")]
    for resource in broken["resources"]:
        if resource["type"].endswith(":PeerAuthentication"):
            resource["inputs"]["spec"]["mtls"]["mode"] = "PERMISSIVE"
        if resource["type"] == "aws:rds/instance:Instance":
            resource["inputs"]["publiclyAccessible"] = True
    rules = {v.rule for v in evaluate(_loaded(broken), PolicyConfig({"all": "mandatory"}))}
    assert rules == {"s3-bucket-secure", "istio-mtls-strict", "istio-mtls-declared", "rds-encrypted-private"}
