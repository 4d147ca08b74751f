"""Run ``ml-serving`` as a user does: the console script when it runs this checkout, as a subprocess.

``scripts/setup.sh`` installs the project (editable) into .venv, so in CI and in the checkout that
owns .venv the script beside the interpreter runs this code. A checkout sharing another's .venv
(whose script runs the other checkout) runs the same entry point as ``python -m cli``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from tests.ports import free_ports

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("ml-serving")


def script_checkout() -> Path | None:
    """The checkout the installed ``ml-serving`` script runs, if one is installed."""
    try:
        text = metadata.distribution("ml-serving").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    url = json.loads(text or "{}").get("url", "")
    return Path(url.removeprefix("file://")).resolve() if SCRIPT.exists() and url.startswith("file://") else None


COMMAND = [str(SCRIPT)] if script_checkout() == ROOT else [sys.executable, "-m", "cli"]


def ml_serving(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def one_line_errors(result: subprocess.CompletedProcess) -> list[str]:
    """The ``error:`` lines of stderr, after checking there is no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def edited_stacks(tmp_path: Path, stack: str, old: str, new: str) -> Path:
    """A copy of the stacks folder (locks included) with one edit to ``stack``'s file."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks)
    path = stacks / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {path.name} exactly once"
    path.write_text(text.replace(old, new))
    return stacks


def local_options(tmp_path: Path, **ports: int) -> list[str]:
    """Every port free (``ports`` overrides), the state under ``tmp_path``."""
    names = ("mlflow", "gateway", "gateway-grpc", "monitor", "prometheus", "model-server-base")
    # the model servers take consecutive ports from their base: room for ten of them, last
    chosen = dict(zip(names, free_ports(len(names) + 9)))
    chosen.update({name.replace("_", "-"): port for name, port in ports.items()})
    options = ["--stacks-dir", str(ROOT / "stacks"), "--state-dir", str(tmp_path / "state")]
    for name, port in chosen.items():
        options += [f"--{name}-port", str(port)]
    return options
