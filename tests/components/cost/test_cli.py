"""``python -m components.cost``: the estimate as JSON and tables; errors in one line, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys

from components.cost.report import to_table
from tests.components.cost.stacks import ROOT, write_stack


def cost(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "components.cost", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_json_estimate_says_which_prices_and_from_when(tmp_path):
    path = write_stack(tmp_path, [])
    result = cost("--stack", "costs", "--stacks-dir", str(path.parent), "--prices", "snapshot", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["prices"]["origins"] == ["snapshot"] and document["prices"]["asOf"]["oldest"] == "2026-12-01"
    assert document["totalMonthlyUsd"]["min"] == 1042.02 and document["budgetUsd"] == 5000
    table = to_table(document)
    assert "| **total** |  | **1,042.02** | **1,042.02** | **2,966.26** |" in table
    assert "| fraud | 221.68 | 0.00 | 0.00 | 221.68 |" in table
    assert "Prices: snapshot (components/cost/prices.json), figures dated 2026-12-01" in table


def test_unknown_stack_is_one_line_without_traceback():
    result = cost("--stack", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: unknown stack 'nope'")
    assert "Traceback" not in result.stderr


def test_bad_usage_names_the_key(tmp_path):
    path = write_stack(tmp_path, [("natProcessedGb: 100", "natProcessedGb: -1")])
    result = cost("--stack", "costs", "--stacks-dir", str(path.parent))
    assert result.returncode == 2
    assert "ml-serving:platform.cost.usage.natProcessedGb: input should be greater than or equal to 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_file_overrides_the_stack_file(tmp_path):
    path = write_stack(tmp_path, [])
    usage = tmp_path / "usage.yml"
    usage.write_text(
        "version: 0.1\nresource_usage:\n  platform: {internetEgressGb: 150}\n  models.fraud: {expectedRps: 400}\n"
    )
    result = cost(
        "--stack",
        "costs",
        "--stacks-dir",
        str(path.parent),
        "--prices",
        "snapshot",
        "--format",
        "json",
        "--usage",
        str(usage),
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    items = {i["name"]: i["monthlyUsd"]["expected"] for i in document["items"]}
    assert items["transfer/internet-out"] == 150 * 0.09  # 50 GB in the stack file
    (fraud,) = document["models"]
    assert fraud["expectedRps"] == 400 and fraud["variants"][0]["replicas"]["expected"] == 4  # 400 / 100, within max 4

    usage.write_text("version: 0.1\nresource_usage:\n  models.frud: {expectedRps: 1}\n  models.fraud: {cpu: 2}\n")
    bad = cost("--stack", "costs", "--stacks-dir", str(path.parent), "--usage", str(usage))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "resource_usage.models.frud: the stack has no model 'frud' (models: fraud)" in bad.stderr
    assert "resource_usage.models.fraud: unknown figure(s) cpu; a model takes expectedRps, replicaRps" in bad.stderr
