"""Pulumi mocks for component tests, set once: the cloud is the one thing faked."""

import pulumi

from components.mocks import RenderMocks

pulumi.runtime.set_mocks(RenderMocks(), project="ml-serving", stack="test", preview=False)


import json  # noqa: E402 - below the mocks, which must be set before any component is built
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack_renders() -> dict[str, dict]:
    """The render of every stack in stacks/, once per session (in subprocesses, side by side:
    the in-process render would replace the mocks set above)."""
    stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    running = {
        stack: subprocess.Popen(
            [sys.executable, "-m", "components.render", "--stack", stack], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for stack in stacks
    }
    renders = {}
    for stack, process in running.items():
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, f"render of {stack} failed: {err.decode()}"
        renders[stack] = json.loads(out)
    return renders
