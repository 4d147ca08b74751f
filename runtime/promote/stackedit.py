"""Write a promotion decision into the stack file, keeping its comments and layout.

ruamel.yaml's round-trip mode keeps comments, key order and flow style, so a step changes only
the weight lines it must. At 100 the canary becomes the primary and the old primary's variant
leaves (its URI leaves the model lock too, and an experiment between the two ends with it); a rollback sets the canary's weight to 0 and the
primary's back to 100, so the stack still records which version was tried.
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from runtime.errors import SpecError
from runtime.registry.lock import ModelLock, check_lock, lock_path, read_lock, stack_uris, write_lock
from runtime.spec import PROJECT, StackSpec, validate_config

__all__ = ["StackEdit", "apply_weight", "round_trip", "validate_text", "prune_lock", "unified_diff"]

MODELS_KEY = f"{PROJECT}:models"


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def round_trip(text: str) -> tuple[Any, YAML]:
    yaml = _yaml()
    return yaml.load(text), yaml


def _dump(document: Any, yaml: YAML) -> str:
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def apply_weight(text: str, stack: str, model: str, canary: str, weight: float, source: str) -> str:
    """The stack file text with ``model``'s canary (by variant name) at ``weight``.

    ``weight`` 100 makes the canary the primary and drops the old primary; 0 rolls it back.
    """
    document, yaml = round_trip(text)
    config = document.get("config") or {}
    models = config.get(MODELS_KEY) or {}
    if model not in models:
        raise SpecError(
            [f"{source}: config.{MODELS_KEY}.{model}: no such model (models: {', '.join(models) or 'none'})"]
        )
    variants = models[model]["variants"]
    spec = validate_config(_plain(config), stack, source)
    names = [v.variant_name for v in spec.models[model].variants]
    if canary not in names:
        raise SpecError(
            [f"{source}: config.{MODELS_KEY}.{model}.variants: no variant named '{canary}' (have {', '.join(names)})"]
        )
    at = names.index(canary)
    primary_at = next(i for i, v in enumerate(spec.models[model].variants) if v.role == "primary")
    if weight >= 100:
        variants[at]["role"] = "primary"
        variants[at]["weight"] = 100
        del variants[primary_at]
        # The A/B test compared the two; with one variant left it is over.
        models[model].pop("experiment", None)
    else:
        variants[at]["weight"] = _number(weight)
        variants[primary_at]["weight"] = _number(100 - weight)
    return _dump(document, yaml)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def validate_text(text: str, stack: str, source: str) -> StackSpec:
    document, _ = round_trip(text)
    return validate_config(_plain(document.get("config") or {}), stack, source)


def prune_lock(spec: StackSpec, stacks_dir: Path | None = None) -> tuple[ModelLock, ModelLock]:
    """(old, new) lock: the entries of URIs the stack file no longer names are dropped.

    A promotion only removes URIs (the canary's entry was locked when it was added), so no
    registry is needed; the new lock is checked against the stack file.
    """
    old = read_lock(spec.stack, stacks_dir)
    named = {uri for _, uri in stack_uris(spec)}
    new = old.model_copy(
        update={
            "stack_uris": sorted(named),
            "versions": {uri: entry for uri, entry in old.versions.items() if uri in named},
        }
    )
    check_lock(spec, new)
    return old, new


def unified_diff(before: str, after: str, name: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{name}", f"b/{name}"))


class StackEdit:
    """The stack file and its lock, edited together and written only when both validate."""

    def __init__(self, stack: str, stacks_dir: Path) -> None:
        self.stack = stack
        self.stacks_dir = stacks_dir
        self.path = stacks_dir / f"Pulumi.{stack}.yaml"
        self.original = self.path.read_text()
        self.text = self.original

    def set_weight(self, model: str, canary: str, weight: float) -> None:
        self.text = apply_weight(self.text, self.stack, model, canary, weight, self.path.name)

    def diff(self) -> str:
        return unified_diff(self.original, self.text, f"stacks/{self.path.name}")

    def write(self) -> str:
        """Write the stack file (and the pruned lock); returns the diff of both."""
        spec = validate_text(self.text, self.stack, self.path.name)
        diff = self.diff()
        path = lock_path(self.stack, self.stacks_dir)
        lock_diff = ""
        if path.exists():
            old, new = prune_lock(spec, self.stacks_dir)
            if new != old:
                before = path.read_text()
                write_lock(new, path)
                lock_diff = unified_diff(before, path.read_text(), f"stacks/{path.name}")
        if self.text != self.original:
            self.path.write_text(self.text)
        return diff + lock_diff
