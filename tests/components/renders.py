"""The render of every stack in stacks/, made once per test session.

In subprocesses, side by side: an in-process render would replace the mocks the component
tests run under.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

__all__ = ["ROOT", "STACKS", "stack_renders"]

ROOT = Path(__file__).resolve().parents[2]
STACKS = tuple(
    sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
)


@cache
def stack_renders() -> dict[str, dict]:
    running = {
        stack: subprocess.Popen(
            [sys.executable, "-m", "components.render", "--stack", stack],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for stack in STACKS
    }
    renders = {}
    for stack, process in running.items():
        out, err = process.communicate(timeout=240)
        if process.returncode != 0:
            raise RuntimeError(f"render of stack {stack} failed: {err.decode()}")
        renders[stack] = json.loads(out)
    return renders
