"""What the render asks of the cluster: node groups, and the pods each workload runs.

Read from the render document (``components.render``), never from resource names: node groups
are ``aws:eks/nodeGroup:NodeGroup`` resources, workloads are Deployments, StatefulSets and
KServe InferenceServices (replica bounds from their HPA or ``min/maxReplicas``). Pods in a
namespace labelled ``istio-injection: enabled`` carry the Istio sidecar's requests: the istiod
release's ``global.proxy.resources.requests``, else the pinned chart's default (istiod 1.28.1
``values.yaml``: 100m CPU, 128Mi). Pods that Helm charts create are not in the render and are
not counted (but for the monitoring release's, ``components.cost.charts``); the node groups'
minimum sizes leave room for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NodeGroupInfo",
    "Workload",
    "node_groups",
    "workloads",
    "placement",
    "admits",
    "of_type",
    "cpu_millicores",
    "memory_mib",
]

_SIDECAR_DEFAULT = {"cpu": "100m", "memory": "128Mi"}
_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
_MEMORY_UNITS = {
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024**2,
    "k": 1000 / 1024**2,
    "M": 1000**2 / 1024**2,
    "G": 1000**3 / 1024**2,
    "T": 1000**4 / 1024**2,
}


def cpu_millicores(quantity: Any) -> int:
    text = str(quantity)
    return round(float(text[:-1])) if text.endswith("m") else round(float(text) * 1000)


def memory_mib(quantity: Any) -> int:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity))
    if match is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    number, unit = float(match[1]), match[2]
    return round(number * _MEMORY_UNITS[unit]) if unit else round(number / 1024**2)


@dataclass(frozen=True)
class NodeGroupInfo:
    name: str
    urn: str
    instance_types: tuple[str, ...]
    min: int
    max: int
    capacity_type: str
    disk_gb: int
    labels: Mapping[str, str]
    taints: tuple[tuple[str, str, str], ...]
    """(key, value, effect) with Kubernetes effect names."""

    @property
    def instance_type(self) -> str:
        """On-demand managed groups launch the first listed type first (prioritized allocation)."""
        return self.instance_types[0]


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    urn: str
    cpu_m: int
    memory_mib: int
    gpus: int
    """Per pod, the Istio sidecar included."""
    min: int
    max: int
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    model: str | None = None
    variant: str | None = None
    role: str | None = None


def node_groups(document: Mapping[str, Any]) -> list[NodeGroupInfo]:
    groups = []
    for r in of_type(document, "aws:eks/nodeGroup:NodeGroup"):
        inputs = r["inputs"]
        scaling = inputs.get("scalingConfig") or {}
        taints = tuple(
            (t.get("key", ""), t.get("value", ""), _EFFECTS.get(t.get("effect", ""), t.get("effect", "")))
            for t in inputs.get("taints") or []
        )
        groups.append(
            NodeGroupInfo(
                name=r["name"],
                urn=r["urn"],
                instance_types=tuple(inputs.get("instanceTypes") or ["t3.medium"]),
                min=int(scaling.get("minSize", 0)),
                max=int(scaling.get("maxSize", 1)),
                capacity_type=str(inputs.get("capacityType") or "ON_DEMAND"),
                disk_gb=int(inputs.get("diskSize") or 20),
                labels=dict(inputs.get("labels") or {}),
                taints=taints,
            )
        )
    return sorted(groups, key=lambda g: g.name)


def of_type(document: Mapping[str, Any], *types: str) -> list[Mapping[str, Any]]:
    """The render's resources of the given types, in render order."""
    return [r for r in document.get("resources") or [] if r.get("type") in types]


def _sidecar(document: Mapping[str, Any]) -> dict[str, str]:
    for r in of_type(document, "kubernetes:helm.sh/v3:Release"):
        if r["inputs"].get("chart") == "istiod":
            requests = (
                (((r["inputs"].get("values") or {}).get("global") or {}).get("proxy") or {})
                .get("resources", {})
                .get("requests")
            )
            if requests:
                return {**_SIDECAR_DEFAULT, **requests}
            return dict(_SIDECAR_DEFAULT)
    return {}


def _injected_namespaces(document: Mapping[str, Any]) -> set[str]:
    return {
        r["inputs"].get("metadata", {}).get("name")
        for r in of_type(document, "kubernetes:core/v1:Namespace")
        if (r["inputs"].get("metadata", {}).get("labels") or {}).get("istio-injection") == "enabled"
    }


def _requests(containers: Iterable[Mapping[str, Any]], sidecar: Mapping[str, str]) -> tuple[int, int, int]:
    cpu = memory = gpus = 0
    for c in [*containers, *([{"resources": {"requests": sidecar}}] if sidecar else [])]:
        resources = c.get("resources") or {}
        # A container with limits only gets requests equal to its limits.
        wanted = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        cpu += cpu_millicores(wanted.get("cpu", 0))
        memory += memory_mib(wanted.get("memory", 0))
        gpus += int(float((resources.get("limits") or {}).get("nvidia.com/gpu", wanted.get("nvidia.com/gpu", 0))))
    return cpu, memory, gpus


def workloads(document: Mapping[str, Any]) -> list[Workload]:
    injected = _injected_namespaces(document)
    sidecar_requests = _sidecar(document)
    hpas = {}
    for r in of_type(document, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"):
        spec, meta = r["inputs"].get("spec") or {}, r["inputs"].get("metadata") or {}
        target = spec.get("scaleTargetRef") or {}
        hpas[(meta.get("namespace"), target.get("kind"), target.get("name"))] = (
            int(spec.get("minReplicas", 1)),
            int(spec["maxReplicas"]),
        )
    found = []
    for r in of_type(document, "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
        meta, spec = r["inputs"].get("metadata") or {}, r["inputs"].get("spec") or {}
        kind = r["type"].rsplit(":", 1)[1]
        pod = (spec.get("template") or {}).get("spec") or {}
        namespace = meta.get("namespace")
        replicas = int(spec.get("replicas", 1))
        low, high = hpas.get((namespace, kind, meta.get("name")), (replicas, replicas))
        sidecar = sidecar_requests if namespace in injected else {}
        cpu, memory, gpus = _requests(pod.get("containers") or [], sidecar)
        found.append(
            Workload(
                kind,
                f"{namespace}/{meta.get('name')}",
                r["urn"],
                cpu,
                memory,
                gpus,
                low,
                high,
                dict(pod.get("nodeSelector") or {}),
                tuple(pod.get("tolerations") or ()),
            )
        )
    for r in of_type(document, "kubernetes:serving.kserve.io/v1beta1:InferenceService"):
        meta = r["inputs"].get("metadata") or {}
        predictor = (r["inputs"].get("spec") or {}).get("predictor") or {}
        namespace = meta.get("namespace")
        containers = [predictor["model"]] if "model" in predictor else list(predictor.get("containers") or [])
        sidecar = sidecar_requests if namespace in injected else {}
        cpu, memory, gpus = _requests(containers, sidecar)
        labels = meta.get("labels") or {}
        found.append(
            Workload(
                "InferenceService",
                f"{namespace}/{meta.get('name')}",
                r["urn"],
                cpu,
                memory,
                gpus,
                int(predictor.get("minReplicas", 1)),
                int(predictor.get("maxReplicas", predictor.get("minReplicas", 1))),
                dict(predictor.get("nodeSelector") or {}),
                tuple(predictor.get("tolerations") or ()),
                model=labels.get("ml-serving.io/model"),
                variant=labels.get("ml-serving.io/variant"),
                role=labels.get("ml-serving.io/role"),
            )
        )
    # Late: the chart data lives beside the deployability rules, which read these workloads too.
    from components.cost.charts import chart_pods

    for name, urn, resources, count in chart_pods(document):
        cpu, memory, gpus = _requests([{"resources": resources}], {})
        found.append(Workload("Pod", name, urn, cpu, memory, gpus, count, count, {}, ()))
    return sorted(found, key=lambda w: (w.urn, w.name))


def _tolerates(tolerations: Iterable[Mapping[str, Any]], taint: tuple[str, str, str]) -> bool:
    key, value, effect = taint
    for t in tolerations:
        if t.get("effect") and t.get("effect") != effect:
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == key):
            return True
        if t.get("key") == key and t.get("value", "") == value:
            return True
    return False


def admits(group: NodeGroupInfo, node_selector: Mapping[str, Any], tolerations: Iterable[Mapping[str, Any]]) -> bool:
    """The group's labels satisfy the node selector and the pod tolerates its hard taints."""
    if any(group.labels.get(k) != str(v) for k, v in node_selector.items()):
        return False
    tolerations = tuple(tolerations)
    return all(_tolerates(tolerations, t) for t in group.taints if t[2] in ("NoSchedule", "NoExecute"))


def placement(workload: Workload, groups: list[NodeGroupInfo]) -> NodeGroupInfo | None:
    """The node group the scheduler can place the workload's pods on (the first that fits), if any."""
    return next((g for g in groups if admits(g, workload.node_selector, workload.tolerations)), None)
