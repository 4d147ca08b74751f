"""The fixed ``costs`` stack of this folder and edited copies of it, rendered offline once per session.

Each copy gets a lock that pins exactly the URIs it names (entries from ``locked_versions.json``).
Renders run in subprocesses, side by side: an in-process render would replace the component
tests' mocks.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from runtime.spec import StackSpec, load_stack_file

__all__ = ["EDITS", "write_stack", "rendered"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PRIMARY = '        - {model: "models:/fraud/5", role: primary, weight: 100}\n'
EDITS: dict[str, list[tuple[str, str]]] = {
    "base": [],
    "shadow": [(PRIMARY, PRIMARY + '        - {model: "models:/fraud/7", role: shadow, mirrorPercent: 50}\n')],
    "gpu": [('resources: {cpu: "3", memory: 6Gi}', 'resources: {cpu: "3", memory: 6Gi, gpu: 1}')],
    "min3": [("autoscaling: {min: 2, max: 4}", "autoscaling: {min: 3, max: 4}")],
    "over-budget": [("monthlyBudgetUsd: 5000", "monthlyBudgetUsd: 1000")],
    "spot": [
        (
            "cpuNodes: {instanceTypes: [m6i.xlarge], min: 2, max: 6}",
            "cpuNodes: {instanceTypes: [m6i.xlarge], min: 2, max: 6, capacityType: SPOT}",
        ),
        ("        controlPlaneLogsGb: 10\n", "        controlPlaneLogsGb: 10\n        spotDiscountPercent: 60\n"),
    ],
}

RENDERED = ("base", "shadow", "gpu", "min3", "spot")


def write_stack(folder: Path, edits: list[tuple[str, str]]) -> Path:
    """``Pulumi.costs.yaml`` with ``edits`` applied, and its lock, in ``folder``."""
    text = (HERE / "Pulumi.costs.yaml").read_text()
    for old, new in edits:
        if text.count(old) != 1:
            raise ValueError(f"{old!r} is not in Pulumi.costs.yaml exactly once")
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Pulumi.costs.yaml"
    path.write_text(text)
    uris = sorted(set(re.findall(r'"(models:/[^"]+)"', text)))
    entries = json.loads((HERE / "locked_versions.json").read_text())
    lock = {
        "artifactsDestination": None,
        "format": 1,
        "stack": "costs",
        "stackUris": uris,
        "trackingUri": "http://127.0.0.1:47575",
        "versions": {uri: entries[uri] for uri in uris},
    }
    (folder / "models.costs.lock.json").write_text(json.dumps(lock, indent=2, sort_keys=True))
    return path


@cache
def rendered() -> dict[str, tuple[StackSpec, dict, Path]]:
    """Per edit: the validated spec, the render document and the stack file."""
    base = Path(tempfile.mkdtemp(prefix="ml-serving-costs-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    paths = {name: write_stack(base / name, edits) for name, edits in EDITS.items() if name in RENDERED}
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", "components.render", "--stack", "costs", "--stacks-dir", str(path.parent)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, path in paths.items()
    }
    out = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=240)
        if process.returncode != 0:
            raise RuntimeError(f"render of the {name} copy failed: {stderr.decode()}")
        out[name] = (load_stack_file(paths[name]), json.loads(stdout), paths[name])
    return out
