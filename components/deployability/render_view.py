"""A render as the deployability rules read it: objects, Helm releases and who waits for whom.

Each rule gets one ``RenderView`` and reports ``Finding``s. A finding names the resource, what a
real ``pulumi up`` would do with it, and the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from components.schema import _plain, kubernetes_objects

__all__ = ["Finding", "RenderView", "Release", "label"]

_RELEASE = "kubernetes:helm.sh/v3:Release"


@dataclass(frozen=True)
class Finding:
    rule: str
    resource: str
    """Kind namespace/name (or the Pulumi name) and the URN."""
    message: str
    """What would happen, why, and the fix."""
    warning: bool = False
    """Shown, but does not fail the check."""

    def __str__(self) -> str:
        return f"[{'warning' if self.warning else 'error'}] {self.rule}: {self.resource}: {self.message}"


def label(manifest: dict[str, Any], urn: str) -> str:
    metadata = manifest.get("metadata") or {}
    namespace = metadata.get("namespace")
    name = metadata.get("name", "<unnamed>")
    return f"{manifest.get('kind')} {namespace + '/' if namespace else ''}{name} ({urn})"


@dataclass(frozen=True)
class Release:
    urn: str
    name: str
    """The Helm release name."""
    chart: str
    """The chart's name (an OCI reference's last segment)."""
    version: str
    namespace: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"Helm release {self.namespace}/{self.name} (chart {self.chart} {self.version}) ({self.urn})"


@dataclass
class RenderView:
    document: dict[str, Any]

    @cached_property
    def resources(self) -> list[dict[str, Any]]:
        return list(self.document.get("resources") or [])

    @cached_property
    def objects(self) -> list[tuple[str, dict[str, Any]]]:
        """(URN, manifest) of every Kubernetes object (Helm releases excluded)."""
        return list(kubernetes_objects(self.document))

    def of_kind(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        return ((urn, m) for urn, m in self.objects if m.get("kind") == kind)

    @cached_property
    def releases(self) -> list[Release]:
        out = []
        for r in self.resources:
            if r["type"] != _RELEASE:
                continue
            inputs = _plain(r.get("inputs") or {})
            out.append(
                Release(
                    urn=r["urn"],
                    name=inputs.get("name") or r["name"],
                    chart=str(inputs.get("chart", "")).rstrip("/").rsplit("/", 1)[-1],
                    version=str(inputs.get("version", "")),
                    namespace=inputs.get("namespace") or "default",
                    values=inputs.get("values") or {},
                )
            )
        return out

    def release(self, chart: str) -> Release | None:
        return next((r for r in self.releases if r.chart == chart), None)

    def of_type(self, pulumi_type: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == pulumi_type]

    @cached_property
    def is_eks(self) -> bool:
        return bool(self.of_type("eks:index:Cluster"))

    @cached_property
    def _edges(self) -> dict[str, set[str]]:
        edges: dict[str, set[str]] = {}
        for r in self.resources:
            waits = set(r.get("dependencies") or [])
            if r.get("provider"):
                waits.add(r["provider"])
            edges[r["urn"]] = waits
        return edges

    def waits_for(self, urn: str) -> set[str]:
        """Every URN ``urn`` is created after (dependencies and providers, transitively)."""
        seen: set[str] = set()
        stack = [urn]
        while stack:
            for dep in self._edges.get(stack.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return seen

    @cached_property
    def injected_namespaces(self) -> set[str]:
        """Namespaces labelled for Istio sidecar injection."""
        names = (
            (m.get("metadata") or {}).get("name")
            for _, m in self.of_kind("Namespace")
            if ((m.get("metadata") or {}).get("labels") or {}).get("istio-injection") == "enabled"
        )
        return {name for name in names if isinstance(name, str)}
