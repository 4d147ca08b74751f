"""``ml-serving lock``: --check passes on a shipped lock, refuses a stale one (exit 2, the command to run)."""

from __future__ import annotations

import json
import shutil

from tests.cli.runner import ROOT, ml_serving, one_line_errors


def test_check_passes_on_the_shipped_lock():
    result = ml_serving("lock", "--check", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "models.dev.lock.json pins every model URI of stack 'dev'\n"


def test_check_refuses_a_lock_older_than_the_stack_file(tmp_path):
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", tmp_path)
    lock = json.loads((ROOT / "stacks" / "models.dev.lock.json").read_text())
    dropped = lock["stackUris"].pop()
    del lock["versions"][dropped]
    (tmp_path / "models.dev.lock.json").write_text(json.dumps(lock))
    result = ml_serving("lock", "--check", "--stack", "dev", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    (line,) = one_line_errors(result)
    assert dropped in line and "run `ml-serving lock --stack dev`" in line, line


def test_lock_of_an_unknown_stack_exits_2_before_reaching_a_registry():
    result = ml_serving("lock", "--stack", "nope", "--tracking-uri", "http://127.0.0.1:9")
    assert result.returncode == 2 and "locking" not in result.stdout
    assert one_line_errors(result)[0].startswith("error: unknown stack 'nope'")


def test_an_unreachable_registry_exits_2_and_leaves_the_lock_as_it_was(tmp_path):
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", tmp_path)
    shutil.copy(ROOT / "stacks" / "models.dev.lock.json", tmp_path)
    before = (tmp_path / "models.dev.lock.json").read_bytes()
    registry = "http://127.0.0.1:9"  # the discard port: nothing listens there
    result = ml_serving("lock", "--stack", "dev", "--stacks-dir", str(tmp_path), "--tracking-uri", registry)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = one_line_errors(result)
    assert line.startswith(f"error: stack 'dev': cannot reach the MLflow registry at {registry} "), line
    assert (tmp_path / "models.dev.lock.json").read_bytes() == before
