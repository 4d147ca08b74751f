"""Promotion edits of a copy of the staging stack: minimal diffs, comments kept, lock pruned, and
the promoted stack still renders, walks its schemas and passes the policy check."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.errors import SpecError
from runtime.promote.stackedit import StackEdit, apply_weight, unified_diff, validate_text
from runtime.registry.lock import read_lock
from runtime.spec import load_stack

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", folder)
    return folder


def _changes(diff: str) -> tuple[list[str], list[str]]:
    lines = [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@"))]
    return [line[1:] for line in lines if line.startswith("-")], [line[1:] for line in lines if line.startswith("+")]


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def test_each_step_changes_only_the_two_weight_lines_and_keeps_comments(stacks):
    original = (stacks / "Pulumi.staging.yaml").read_text()
    for weight in (25, 50):
        edit = StackEdit("staging", stacks)
        edit.set_weight("fraud", "v6", weight)
        removed, added = _changes(edit.write())
        assert len(removed) == 2 and len(added) == 2, edit.diff()
        assert added == [
            f'        - {{model: "models:/fraud/5", role: primary, weight: {100 - weight}}}',
            f'        - {{model: "models:/fraud/6", role: canary, weight: {weight}}}',
        ]
        assert _comments((stacks / "Pulumi.staging.yaml").read_text()) == _comments(original)
    fraud = load_stack("staging", stacks).models["fraud"]
    assert [(v.variant_name, v.weight) for v in fraud.live_variants] == [("v5", 50), ("v6", 50)]


def test_at_100_the_canary_becomes_primary_the_old_primary_leaves_and_the_lock_follows(stacks):
    before_lock = read_lock("staging", stacks)
    edit = StackEdit("staging", stacks)
    edit.set_weight("fraud", "v6", 100)
    diff = edit.write()
    removed, added = _changes(diff.split("--- a/stacks/models.staging.lock.json")[0])
    assert removed == [
        '        - {model: "models:/fraud/5", role: primary, weight: 90}',
        '        - {model: "models:/fraud/6", role: canary, weight: 10}',
    ]
    assert added == ['        - {model: "models:/fraud/6", role: primary, weight: 100}']
    fraud = load_stack("staging", stacks).models["fraud"]
    assert fraud.primary.model == "models:/fraud/6" and [v.variant_name for v in fraud.shadows] == ["v7"]
    after_lock = read_lock("staging", stacks)
    assert "models:/fraud/5" in before_lock.versions and "models:/fraud/5" not in after_lock.versions
    assert after_lock.versions["models:/fraud/6"] == before_lock.versions["models:/fraud/6"]
    assert "models:/fraud/5" in diff.split("--- a/stacks/models.staging.lock.json")[1]


def test_rollback_sets_the_canary_to_zero_and_leaves_the_lock(stacks):
    lock_before = (stacks / "models.staging.lock.json").read_text()
    edit = StackEdit("staging", stacks)
    edit.set_weight("fraud", "v6", 0)
    removed, added = _changes(edit.write())
    assert added == [
        '        - {model: "models:/fraud/5", role: primary, weight: 100}',
        '        - {model: "models:/fraud/6", role: canary, weight: 0}',
    ]
    assert (stacks / "models.staging.lock.json").read_text() == lock_before


def test_unknown_variant_is_an_error_naming_the_key_path(stacks):
    edit = StackEdit("staging", stacks)
    with pytest.raises(SpecError, match=r"config\.ml-serving:models\.fraud\.variants: no variant named 'v9'"):
        edit.set_weight("fraud", "v9", 25)


_SCHEMA_WALK = """
import json
import sys
from pathlib import Path
from components.render import render
from components.schema import walk
document = render("staging", Path(sys.argv[1]))
report = walk(document, "1.32")
print(json.dumps({"checked": len(report.checked), "render": json.dumps(document, default=str)}))
"""


@pytest.mark.slow
def test_promoted_stack_passes_render_schema_walk_and_policy_check(stacks):
    edit = StackEdit("staging", stacks)
    edit.set_weight("fraud", "v6", 100)
    edit.write()
    check = subprocess.Popen(
        [sys.executable, "-m", "policies.check", "--stack", "staging", "--stacks-dir", str(stacks)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    schema = subprocess.run(
        [sys.executable, "-c", _SCHEMA_WALK, str(stacks)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    out, err = check.communicate(timeout=300)
    assert schema.returncode == 0, schema.stderr
    walked = json.loads(schema.stdout.splitlines()[-1])
    assert walked["checked"] > 10
    assert "models:/fraud/6" in walked["render"] and "models:/fraud/5" not in walked["render"]
    assert check.returncode == 0, out + err
    assert "[mandatory]" not in out


def test_at_100_an_experiment_between_the_two_ends_with_the_old_primary(stacks):
    text = (stacks / "Pulumi.staging.yaml").read_text()
    line = "      experiment: {outcome: click, minimumDetectableLift: 0.05}\n"
    assert line in text
    text = text.replace(line, line + "      progressive: {steps: [50, 100], minSamplesPerStep: 1000}\n")
    promoted = apply_weight(text, "staging", "recommender", "als", 100, "stacks/Pulumi.staging.yaml")
    model = validate_text(promoted, "staging", "stacks/Pulumi.staging.yaml").models["recommender"]
    assert model.experiment is None and [v.variant_name for v in model.variants] == ["als"]
    removed, added = _changes(unified_diff(text, promoted, "Pulumi.staging.yaml"))
    assert removed == [
        '        - {model: "models:/recommender-popular/2", role: primary, weight: 50, name: popular}',
        '        - {model: "models:/recommender-als/3", role: canary, weight: 50, name: als}',
        line.rstrip("\n"),
    ], removed
    assert added == ['        - {model: "models:/recommender-als/3", role: primary, weight: 100, name: als}'], added
    assert _comments(promoted) == _comments(text)
