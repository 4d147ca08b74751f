"""A usage file in the infracost way: what the code cannot know, kept apart from the stack file.

    version: 0.1
    resource_usage:
      platform:                 # merged into ml-serving:platform.cost.usage
        internetEgressGb: 1500
      models.fraud:             # expectedRps and replicaRps of one model
        expectedRps: 900

Its figures override the stack file's; the merged config is validated like the stack file, so a
bad figure is named by its key path.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from runtime.errors import SpecError
from runtime.spec import PROJECT

__all__ = ["apply_usage_file", "MODEL_KEYS"]

MODEL_KEYS = ("expectedRps", "replicaRps")


def apply_usage_file(config: dict[str, Any], path: Path) -> dict[str, Any]:
    """``config`` (a stack file's, as read) with the usage file's figures merged in."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError([f"{path}: cannot read the usage file: {' '.join(str(exc).split())}"]) from None
    if (
        not isinstance(document, dict)
        or str(document.get("version")) != "0.1"
        or not isinstance(document.get("resource_usage"), dict)
    ):
        raise SpecError([f"{path}: expected 'version: 0.1' and a 'resource_usage:' mapping"])
    merged = copy.deepcopy(config)
    platform = merged.setdefault(f"{PROJECT}:platform", {})
    models = merged.get(f"{PROJECT}:models") or {}
    problems = []
    for key, figures in document["resource_usage"].items():
        where = f"{path}: resource_usage.{key}"
        if not isinstance(figures, dict):
            problems.append(f"{where}: expected a mapping of figures")
        elif key == "platform":
            platform.setdefault("cost", {}).setdefault("usage", {}).update(figures)
        elif key.startswith("models.") and key[7:] in models:
            unknown = sorted(set(figures) - set(MODEL_KEYS))
            if unknown:
                problems.append(
                    f"{where}: unknown figure(s) {', '.join(unknown)}; a model takes {', '.join(MODEL_KEYS)}"
                )
            models[key[7:]].update(figures)
        elif key.startswith("models."):
            problems.append(
                f"{where}: the stack has no model {key[7:]!r} (models: {', '.join(sorted(models)) or 'none'})"
            )
        else:
            problems.append(f"{where}: unknown key; expected 'platform' or 'models.<name>'")
    if problems:
        raise SpecError(problems)
    return merged
