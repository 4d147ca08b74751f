"""``ml-serving render``: the render document, to a file; bad input exits 2 naming the key path."""

from __future__ import annotations

import json

from tests.cli.runner import edited_stacks, ml_serving, one_line_errors


def test_render_writes_the_document_of_the_stack(tmp_path):
    target = tmp_path / "render.json"
    result = ml_serving("render", "--stack", "local", "--output", str(target))
    assert result.returncode == 0, result.stderr
    document = json.loads(target.read_text())
    assert document["stack"] == "local" and result.stdout == ""
    types = {r["type"] for r in document["resources"]}
    assert {"kubernetes:core/v1:ConfigMap", "kubernetes:serving.kserve.io/v1beta1:InferenceService"} <= types, types


def test_a_bad_stack_file_exits_2_with_one_line_naming_the_file_and_key_path(tmp_path):
    stacks = edited_stacks(tmp_path, "local", "latencyBudgetMs: 50\n", "latencyBudgetMs: -5\n")
    result = ml_serving("render", "--stack", "local", "--stacks-dir", str(stacks))
    assert result.returncode == 2 and result.stdout == ""
    (line,) = one_line_errors(result)
    assert line.startswith(f"error: {stacks}/Pulumi.local.yaml: ml-serving:models.fraud.latencyBudgetMs: "), line


def test_an_unknown_stack_exits_2_listing_the_known_ones():
    result = ml_serving("render", "--stack", "nope")
    assert result.returncode == 2
    (line,) = one_line_errors(result)
    assert line.startswith("error: unknown stack 'nope'") and "known stacks: dev, local, prod, staging" in line


def test_an_output_folder_that_does_not_exist_is_bad_input(tmp_path):
    result = ml_serving("render", "--stack", "local", "--output", str(tmp_path / "nowhere" / "r.json"))
    assert result.returncode == 2
    assert one_line_errors(result) == [
        f"error: --output {tmp_path}/nowhere/r.json: the folder {tmp_path}/nowhere does not exist"
    ]
