"""Renders of the shipped stacks, copied for mutation, and finding lookups."""

from __future__ import annotations

import copy

from components.deployability import Finding, check_render
from tests.components.renders import stack_renders

__all__ = ["render_of", "resource", "release_values", "findings", "only"]


def render_of(stack: str) -> dict:
    return copy.deepcopy(stack_renders()[stack])


def resource(document: dict, pulumi_type: str, name: str) -> dict:
    return next(r for r in document["resources"] if r["type"] == pulumi_type and r["name"] == name)


def release_values(document: dict, name: str) -> dict:
    return resource(document, "kubernetes:helm.sh/v3:Release", name)["inputs"].setdefault("values", {})


def findings(document: dict, rule: str) -> list[Finding]:
    return [f for f in check_render(document) if f.rule == rule]


def only(document: dict, rule: str) -> Finding:
    found = findings(document, rule)
    assert len(found) == 1, [str(f) for f in found]
    return found[0]
