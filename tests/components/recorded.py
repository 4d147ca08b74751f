"""What the component tests' mock monitor recorded: each resource's inputs as registered."""

from __future__ import annotations

from typing import Any

from components.mocks import RecordingMonitor, RenderMocks
from components.schema import kubernetes_objects, validate_object

MOCKS = RenderMocks()
MONITOR = RecordingMonitor(MOCKS)


def children(parent_urn: str) -> list[dict[str, Any]]:
    """Resources registered under ``parent_urn`` (directly), render-shaped."""
    return [
        {"type": r.type, "name": r.name, "urn": r.urn, "parent": r.parent, "custom": r.custom, "inputs": r.inputs}
        for r in MONITOR.registrations
        if r.parent == parent_urn
    ]


def manifests(parent_urn: str) -> list[tuple[str, dict[str, Any]]]:
    """(URN, Kubernetes manifest) of every child object of ``parent_urn``."""
    return list(kubernetes_objects({"resources": children(parent_urn)}))


def of_kind(parent_urn: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(urn, m) for urn, m in manifests(parent_urn) if m["kind"] == kind]


def schema_problems(parent_urn: str) -> list[str]:
    """Every schema problem of the children of ``parent_urn``, each naming the URN."""
    problems = []
    for urn, manifest in manifests(parent_urn):
        found = validate_object(manifest)
        if found is None:
            problems.append(f"{urn}: no schema for {manifest['apiVersion']} {manifest['kind']}")
        problems.extend(f"{urn}: {p}" for p in found or [])
    return problems


def _held(value: Any) -> list[Any]:
    """The Pulumi resources in ``value``: itself, or those in a dict's values or a list."""
    import pulumi

    if isinstance(value, pulumi.Resource):
        return [value]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _held(v)]
    if isinstance(value, list | tuple):
        return [r for v in value for r in _held(v)]
    return []


def settled(component: Any, *resources: Any) -> Any:
    """The component's URN, once each resource it holds (its attributes, their dicts and lists)
    and each given one is registered, so ``children`` sees all of them."""
    import pulumi

    held = [r for r in _held([*vars(component).values(), *resources]) if r is not component]
    unique = list({id(r): r for r in held}.values())
    return pulumi.Output.all(component.urn, *(r.urn for r in unique)).apply(lambda urns: urns[0])
