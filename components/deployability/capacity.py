"""Rule ``scheduling``: every pod fits a node group that admits it, and the minimums fit the maximums.

A pod lands on a node group whose labels satisfy its node selector and required affinity and
whose taints it tolerates. cluster-autoscaler sizes a managed node group by its first instance
type, so that type's allocatable (the EKS AMI's reservation, ``instances.py``) must hold the
pod's requests plus the injected Istio sidecar. The minimum replicas of every pod, packed onto
nodes of that type, must fit the group's maximum. A pod that requests ``nvidia.com/gpu`` also
needs a device plugin whose DaemonSet schedules on that group: the scheduler sees no GPU
otherwise. Charts' own pods (istiod, controllers) are not counted; per-node DaemonSets are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.deployability.charts import effective_values
from components.deployability.instances import INSTANCE_TYPES, InstanceType, allocatable
from components.deployability.pods import Pod, pods, required_terms
from components.deployability.render_view import Finding, RenderView

__all__ = ["NodeGroupView", "node_groups", "scheduling", "admits"]

_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


@dataclass(frozen=True)
class NodeGroupView:
    name: str
    urn: str
    instance_types: tuple[str, ...]
    min: int
    max: int
    labels: dict[str, str]
    taints: tuple[dict[str, str], ...]

    @property
    def first(self) -> str:
        return self.instance_types[0]

    @property
    def label(self) -> str:
        return f"node group {self.name} ({self.urn})"


def node_groups(view: RenderView) -> list[NodeGroupView]:
    groups = []
    for r in view.of_type("aws:eks/nodeGroup:NodeGroup"):
        inputs = r.get("inputs") or {}
        scaling = inputs.get("scalingConfig") or {}
        types = tuple(inputs.get("instanceTypes") or ())
        labels = {"kubernetes.io/os": "linux", **(inputs.get("labels") or {})}
        if types:
            labels["node.kubernetes.io/instance-type"] = types[0]
        taints = tuple(
            {"key": t.get("key"), "value": t.get("value"), "effect": _EFFECTS.get(t.get("effect"), t.get("effect"))}
            for t in inputs.get("taints") or ()
        )
        groups.append(NodeGroupView(r["name"], r["urn"], types, int(scaling.get("minSize", 0)), int(scaling.get("maxSize", 0)), labels, taints))
    return groups


def _expression_holds(expression: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op, values = expression.get("key"), expression.get("operator"), [str(v) for v in expression.get("values") or ()]
    present = key in labels
    return {
        "In": present and labels.get(key) in values,
        "NotIn": not present or labels.get(key) not in values,
        "Exists": present,
        "DoesNotExist": not present,
    }.get(op, False)


def _tolerates(tolerations: tuple[dict, ...], taint: dict[str, str]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint["effect"]:
            continue
        if t.get("operator", "Equal") == "Exists" and (not t.get("key") or t.get("key") == taint["key"]):
            return True
        if t.get("key") == taint["key"] and str(t.get("value", "")) == str(taint.get("value") or ""):
            return True
    return False


def admits(group: NodeGroupView, node_selector: dict, affinity_terms: tuple[dict, ...], tolerations: tuple[dict, ...]) -> bool:
    if any(group.labels.get(k) != str(v) for k, v in node_selector.items()):
        return False
    if affinity_terms and not any(
        all(_expression_holds(e, group.labels) for e in term.get("matchExpressions") or ()) for term in affinity_terms
    ):
        return False
    hard = [t for t in group.taints if t["effect"] in ("NoSchedule", "NoExecute")]
    return all(_tolerates(tolerations, t) for t in hard)


def _fits(pod: Pod, instance: InstanceType) -> bool:
    cpu, memory = allocatable(instance)
    return pod.cpu_m <= cpu and pod.memory_mib <= memory and pod.gpus <= instance.gpus


def _device_plugin_admits(view: RenderView, group: NodeGroupView) -> bool:
    release = view.release("nvidia-device-plugin")
    if release is None:
        return False
    values = effective_values(release)
    return admits(group, values.get("nodeSelector") or {}, required_terms(values.get("affinity")), tuple(values.get("tolerations") or ()))


def _nodes_needed(replicas: list[Pod], instance: InstanceType) -> int:
    """First-fit decreasing: the nodes the minimum replicas take, at best."""
    cpu, memory = allocatable(instance)
    nodes: list[list[int]] = []
    for pod in sorted(replicas, key=lambda p: (p.gpus, p.cpu_m, p.memory_mib), reverse=True):
        for node in nodes:
            if node[0] >= pod.cpu_m and node[1] >= pod.memory_mib and node[2] >= pod.gpus:
                node[0], node[1], node[2] = node[0] - pod.cpu_m, node[1] - pod.memory_mib, node[2] - pod.gpus
                break
        else:
            nodes.append([cpu - pod.cpu_m, memory - pod.memory_mib, instance.gpus - pod.gpus])
    return len(nodes)


def scheduling(view: RenderView) -> list[Finding]:
    groups = node_groups(view)
    if not groups:
        return []  # an existing cluster: its nodes are not in the render
    findings: list[Finding] = []
    for group in groups:
        unknown = [t for t in group.instance_types if t not in INSTANCE_TYPES]
        if unknown:
            findings.append(
                Finding("scheduling", group.label, f"instance type(s) {', '.join(unknown)} are not in the pinned table "
                        f"(components/deployability/instances.py): their capacity cannot be checked; add them")
            )
    placed: dict[str, list[Pod]] = {g.name: [] for g in groups}
    for pod in pods(view):
        candidates = [g for g in groups if admits(g, pod.node_selector, pod.affinity_terms, pod.tolerations) and g.first in INSTANCE_TYPES]
        if not candidates:
            findings.append(
                Finding("scheduling", pod.owner, "no node group's labels and taints admit it: it stays Pending; fix: "
                        "match a group's labels in its nodeSelector and tolerate that group's taints")
            )
            continue
        fitting = [g for g in candidates if _fits(pod, INSTANCE_TYPES[g.first])]
        if not fitting:
            sizes = "; ".join(
                f"{g.name}: {g.first} offers {allocatable(INSTANCE_TYPES[g.first])[0]}m CPU, "
                f"{allocatable(INSTANCE_TYPES[g.first])[1]}Mi, {INSTANCE_TYPES[g.first].gpus} GPU" for g in candidates
            )
            sidecar = " (with the Istio sidecar's requests)" if pod.sidecar else ""
            findings.append(
                Finding("scheduling", pod.owner,
                        f"requests {pod.cpu_m}m CPU, {pod.memory_mib}Mi, {pod.gpus} GPU{sidecar}, more than one node "
                        f"allocates after the EKS AMI's reservation ({sizes}); cluster-autoscaler sizes a group by its "
                        "first instance type, so it never scales up for it and the pod stays Pending; fix: a larger "
                        "first instance type, or smaller requests")
            )
            continue
        group = fitting[0]
        if pod.gpus and not _device_plugin_admits(view, group):
            findings.append(
                Finding("scheduling", pod.owner,
                        f"requests {pod.gpus} nvidia.com/gpu, but no NVIDIA device plugin pod schedules on {group.name} "
                        f"(labels {group.labels}): no node advertises a GPU and the pod stays Pending; fix: install the "
                        "device plugin with an affinity and tolerations that match the GPU group")
            )
        placed[group.name].extend([pod] * pod.min_replicas)
    for group in groups:
        if not placed[group.name] or group.first not in INSTANCE_TYPES:
            continue
        needed = _nodes_needed(placed[group.name], INSTANCE_TYPES[group.first])
        if needed > group.max:
            findings.append(
                Finding("scheduling", group.label,
                        f"the minimum replicas of the {len(placed[group.name])} pods placed here need at least {needed} "
                        f"{group.first} nodes, but the group's max is {group.max}: the rest stay Pending; fix: raise "
                        "max, use a larger first instance type, or lower requests or minimum replicas")
            )
    return findings
