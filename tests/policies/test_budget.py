"""The cost-budget rule: a stack over its declared budget fails, naming the items that grow to it."""

from __future__ import annotations

import json
import subprocess
import sys

from pulumi_policy import StackValidationArgs

from policies.budget import cost_budget
from tests.components.cost.stacks import EDITS, ROOT, rendered, write_stack
from tests.policies.builders import Reports, policy_resource


def resources_of(document: dict) -> list:
    return [policy_resource(r["type"], r["name"], r["inputs"]) for r in document["resources"]]


def _validate(stack_path, document) -> Reports:
    reports = Reports()
    cost_budget(
        StackValidationArgs(resources_of(document), {"stackFile": str(stack_path), "prices": "snapshot"}), reports
    )
    return reports


def test_within_budget_passes():
    _, document, path = rendered()["base"]  # maximum 2,966.26 against 5,000
    assert len(_validate(path, document)) == 0


def test_over_budget_names_the_items_that_grow(tmp_path):
    _, document, _ = rendered()["base"]  # a budget does not change the render
    reports = _validate(write_stack(tmp_path, EDITS["over-budget"]), document)
    assert len(reports) == 1
    text = reports.text()
    assert (
        "maximum monthly estimate of stack" in text
        and "$2,966.26, over its budget of $1,000.00" in text
        and "by $1,966.26" in text
    )
    # Largest growth first: GPU nodes 0 -> 2 (1,468.76), CPU nodes 3 -> 6 (420.48 -> 840.96), then the disks.
    named = text.split("Items that grow to it: ")[1].split(". At its maximum")[0].split("; ")
    assert [part.split(" ")[0] for part in named] == [
        "nodes/cluster-gpu",
        "nodes/cluster-cpu",
        "nodes/cluster-gpu/disk",
        "nodes/cluster-cpu/disk",
    ]
    assert (
        "nodes/cluster-gpu $0.00 at minimum -> $1,468.76 at maximum (0 x g5.xlarge on-demand -> 2 x g5.xlarge on-demand)"
        in text
    )


def test_no_budget_no_check(tmp_path):
    _, document, _ = rendered()["base"]
    path = write_stack(tmp_path, [("      monthlyBudgetUsd: 5000\n", "")])
    assert len(_validate(path, document)) == 0


def test_checker_fails_an_over_budget_stack(tmp_path):
    path = write_stack(tmp_path, EDITS["over-budget"])
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"cost-budget": "mandatory"}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "policies.check",
            "--stack",
            "costs",
            "--stacks-dir",
            str(path.parent),
            "--policy-config",
            str(config),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("[mandatory]")]
    assert line.startswith(f"[mandatory] cost-budget: {path}: the maximum monthly estimate of stack costs is $2,966.26")
    assert "nodes/cluster-gpu $0.00 at minimum -> $1,468.76" in line
