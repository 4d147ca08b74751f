"""Base and head estimates side by side: what the pull request's change costs."""

from __future__ import annotations

import json

import pytest

from components.cost.diff import diff, diff_table
from components.cost.estimate import estimate
from components.cost.prices import PriceBook
from components.cost.report import to_json
from tests.components.cost.stacks import rendered
from tests.components.cost.test_cli import cost


def estimate_of(name: str) -> dict:
    spec, document, _ = rendered()[name]
    return to_json(estimate(spec, document, "us-west-2", PriceBook.from_snapshot("us-west-2")))


def test_a_shadow_shows_as_two_nodes_and_the_models_shadow_share():
    changes = diff(estimate_of("base"), estimate_of("shadow"))
    assert [(i["name"], i["status"], i["delta"]["expected"], i["delta"]["max"]) for i in changes["items"]] == [
        ("nodes/cluster-cpu", "changed", 280.32, 0.0),  # 2 x 730 h x $0.192
        ("nodes/cluster-cpu/disk", "changed", 10.0, 0.0),
    ]
    assert changes["total"]["delta"]["expected"] == 290.32
    (fraud,) = changes["models"]
    assert (
        fraud["shadowDelta"]["expected"]
        == fraud["delta"]["expected"]
        == pytest.approx(2 * 3100 / 3920 * 0.192 * 730, abs=0.01)
    )
    table = diff_table(changes)
    assert "| `nodes/cluster-cpu` | changed: 5 x m6i.xlarge on-demand | 700.80 | +280.32 | 840.96 | 0.00 |" in table
    assert "| **total** |  | **1,332.34** | **+290.32** | **2,966.26** | **0.00** |" in table
    # The shadow's maximum is four more replicas; a million predictions now pays for both variants.
    assert "| fraud | 443.36 | +221.68 | +221.68 | +443.36 | 0.4218 -> 0.8435 |" in table


def test_no_change_and_a_new_stack():
    head = estimate_of("base")
    assert diff_table(diff(head, head)).splitlines()[2] == "No change in cost: 1,042.02 expected, 2,966.26 at maximum."
    added = diff({}, head)
    assert {i["status"] for i in added["items"]} == {"added"} and added["total"]["delta"]["min"] == 1042.02


def test_cli_diff_and_render_paths(tmp_path):
    spec, document, path = rendered()["shadow"]
    (tmp_path / "render.json").write_text(json.dumps(document))
    result = cost(
        "--stack",
        "costs",
        "--stacks-dir",
        str(path.parent),
        "--render",
        str(tmp_path / "render.json"),
        "--prices",
        "snapshot",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    (tmp_path / "head.json").write_text(result.stdout)
    (tmp_path / "base.json").write_text(json.dumps(estimate_of("base")))
    shown = cost("--diff", str(tmp_path / "base.json"), str(tmp_path / "head.json"))
    assert shown.returncode == 0 and "**+290.32**" in shown.stdout
    broken = cost("--diff", str(tmp_path / "base.json"), str(tmp_path / "absent.json"))
    assert broken.returncode == 2 and broken.stderr.startswith(
        f"error: {tmp_path / 'absent.json'}: expected an estimate"
    )
