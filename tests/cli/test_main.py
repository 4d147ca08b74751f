"""``ml-serving``: the help of every command, exit codes, one-line errors, the installed script."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from importlib import import_module

import pytest

from cli.main import COMMANDS, build_parser
from tests.cli.runner import ROOT, SCRIPT, ml_serving, one_line_errors


def test_top_level_help_lists_every_command_and_the_exit_codes():
    result = ml_serving("--help", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ml-serving [-h] COMMAND ...")
    for name in COMMANDS:
        assert re.search(rf"^    {name} +\S", result.stdout, re.MULTILINE), f"{name} is not listed:\n{result.stdout}"
    for code, meaning in (("0", "ok"), ("1", "a check failed"), ("2", "bad input")):
        assert re.search(rf"^  {code}  {meaning}", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help_with_an_example_of_itself(name):
    result = ml_serving(name, "--help", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: ml-serving {name} "), result.stdout
    examples = result.stdout.split("\nexamples:\n", 1)[1]
    assert f"  ml-serving {name} " in examples and "--stack" in result.stdout, result.stdout


def test_help_imports_none_of_the_heavy_modules():
    # Every subcommand's parser is built for any --help: none may import what its run needs.
    heavy = {"pydantic", "pulumi", "pulumi_policy", "mlflow", "scipy", "numpy", "yaml", "components", "policies"}
    probe = (
        "import sys; from cli.main import build_parser; build_parser().format_help(); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(heavy)!r})))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"--help imports {result.stdout.strip()}"


def test_every_command_module_is_registered_and_offers_the_interface():
    modules = {p.stem for p in (ROOT / "cli").glob("*.py") if "\ndef run(" in p.read_text()}
    assert modules == set(COMMANDS), "a cli/<command>.py module needs its line in cli.main.COMMANDS (and back)"
    for name in COMMANDS:
        module = import_module(f"cli.{name}")
        assert module.HELP and module.EXAMPLES and module.__doc__, name
        assert callable(module.add_arguments) and callable(module.run), name


def test_bad_usage_exits_2_with_the_usage_and_one_line():
    for args, expected in (
        ((), "the following arguments are required: COMMAND"),
        (("deploy",), "invalid choice: 'deploy'"),
        (("render",), "the following arguments are required: --stack"),
    ):
        result = ml_serving(*args, timeout=30)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("usage: ml-serving") and expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_an_unexpected_error_is_one_line_unless_the_traceback_is_asked_for(tmp_path):
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.dev.yaml").write_text((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    (stacks / "models.dev.lock.json").mkdir()  # a folder where the lock file belongs: no project error
    result = ml_serving("lock", "--check", "--stack", "dev", "--stacks-dir", str(stacks))
    assert result.returncode == 1
    assert one_line_errors(result) == [
        f"error: IsADirectoryError: [Errno 21] Is a directory: '{stacks}/models.dev.lock.json'"
    ]
    shown = ml_serving(
        "lock", "--check", "--stack", "dev", "--stacks-dir", str(stacks), env={"ML_SERVING_TRACEBACK": "1"}
    )
    assert shown.returncode == 1 and "Traceback (most recent call last)" in shown.stderr


def _workflow_invocations() -> list[list[str]]:
    """Every ``ml-serving`` command line of the workflows, with expressions and variables as words."""
    found = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        text = re.sub(r"\\\n\s*", " ", path.read_text())  # shell line continuations
        for line in text.splitlines():
            match = re.search(r'(?:\.venv/bin/ml-serving|"\$cli")\s+([a-z].*)', line)
            if match is None or "# " in line.split(match.group(0))[0]:
                continue
            words = re.sub(r"\$\{\{[^}]*\}\}|\$[A-Za-z_]+", "x", match.group(1))
            words = re.split(r"\s*(?:>>?|\||&&|\))\s*", words)[0]
            found.append(shlex.split(words))
    return found


def test_the_workflows_call_registered_commands_with_options_they_accept():
    invocations = _workflow_invocations()
    assert {words[0] for words in invocations} >= {"render", "check", "cost", "promote"}, invocations
    parser = build_parser()
    for words in invocations:
        parser.parse_args(words)  # exits 2 (failing the test) on an unknown command or option


def test_the_console_script_is_installed_beside_the_interpreter():
    if not SCRIPT.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{SCRIPT} is missing: scripts/setup.sh installs it (make setup)")
        pytest.skip(f"{SCRIPT} is not installed here; `make setup` in the checkout that owns .venv installs it")
    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("usage: ml-serving "), result.stderr
    result = subprocess.run(
        [str(SCRIPT), "render", "--stack", "nope"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 2
    assert one_line_errors(result) and one_line_errors(result)[0].startswith("error: unknown stack 'nope'")


def test_the_project_is_built_by_the_locked_backend_and_the_lock_does_not_name_it():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"] == {"ml-serving": "cli.main:main"}
    locked = [line for line in (ROOT / "requirements.lock").read_text().splitlines() if not line.startswith("#")]
    assert set(pyproject["build-system"]["requires"]) <= set(locked), "scripts/setup.sh builds without isolation"
    own = [line for line in locked if line.startswith(("-e", "ml-serving")) or " @ file:" in line]
    assert own == [], f"the lock names a local install (pip freeze --exclude-editable leaves it out): {own}"
