"""Rule ``scheduling``: every pod fits a node group that admits it, and the minimums fit the maximums.

A pod lands on a node group whose labels satisfy its node selector and whose taints it
tolerates. cluster-autoscaler sizes a managed node group by its first instance type, so that
type's allocatable (the EKS AMI's reservation, ``components/cost/nodes.py``) less the per-node
DaemonSets must hold the pod's requests plus the injected Istio sidecar. The minimum replicas of
every pod, packed first-fit decreasing onto nodes of that type, must fit the group's maximum. A
pod that requests ``nvidia.com/gpu`` also needs a device plugin whose DaemonSet (the chart's
affinity, node selector and tolerations, defaults included) schedules on that group: the
scheduler sees no GPU otherwise. Charts' own Deployments (istiod, controllers) are not counted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from components.cost.nodes import INSTANCE_TYPES, Allocatable, allocatable
from components.cost.packing import Pod, pack
from components.cost.workloads import NodeGroupInfo, Workload, admits, node_groups, workloads
from components.deployability.charts import effective_values
from components.deployability.render_view import Finding, RenderView

__all__ = ["NODE_DAEMONS", "schedulable", "scheduling"]

NODE_DAEMONS: dict[str, tuple[int, int]] = {
    "kube-proxy (EKS add-on)": (100, 0),
    "aws-node (VPC CNI add-on)": (25, 0),
    "ebs-csi-node (aws-ebs-csi-driver 2.64 node.resources)": (10, 40),
}
"""DaemonSets on every node of this stack's EKS cluster: (CPU millicores, MiB) each requests."""


def schedulable(instance: str) -> Allocatable:
    """What one node of ``instance`` leaves to the stack's pods after the AMI and the DaemonSets."""
    node = allocatable(INSTANCE_TYPES[instance])
    return replace(
        node,
        cpu_m=node.cpu_m - sum(c for c, _ in NODE_DAEMONS.values()),
        memory_mib=node.memory_mib - sum(m for _, m in NODE_DAEMONS.values()),
        pods=node.pods - len(NODE_DAEMONS),
    )


def _holds(expression: dict[str, Any], labels: dict[str, str]) -> bool:
    key, values = expression.get("key"), [str(v) for v in expression.get("values") or ()]
    label = labels.get(key) if isinstance(key, str) else None
    present = isinstance(key, str) and key in labels
    return {
        "In": label in values,
        "NotIn": label not in values,
        "Exists": present,
        "DoesNotExist": not present,
    }.get(str(expression.get("operator")), False)


def _device_plugin_admits(view: RenderView, group: NodeGroupInfo) -> bool:
    release = view.release("nvidia-device-plugin")
    if release is None:
        return False
    values = effective_values(release)
    if not admits(group, values.get("nodeSelector") or {}, values.get("tolerations") or ()):
        return False
    required = ((values.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    labels = dict(group.labels)
    return not terms or any(all(_holds(e, labels) for e in t.get("matchExpressions") or ()) for t in terms)


def _fits(w: Workload, node: Allocatable) -> bool:
    return w.cpu_m <= node.cpu_m and w.memory_mib <= node.memory_mib and w.gpus <= node.gpus


def _owner(w: Workload) -> str:
    return f"{w.kind} {w.name} ({w.urn})"


def _too_large(w: Workload, candidates: list[NodeGroupInfo]) -> Finding:
    sizes = "; ".join(
        f"{g.name}: {g.instance_type} offers {schedulable(g.instance_type).cpu_m}m CPU, "
        f"{schedulable(g.instance_type).memory_mib}Mi, {schedulable(g.instance_type).gpus} GPU"
        for g in candidates
    )
    return Finding(
        "scheduling",
        _owner(w),
        f"requests {w.cpu_m}m CPU, {w.memory_mib}Mi, {w.gpus} GPU per pod (the Istio sidecar included), more than one "
        f"node allocates after the EKS AMI's reservation and the node DaemonSets ({sizes}); cluster-autoscaler sizes a "
        "group by its first instance type, so it never scales up for it and the pod stays Pending; fix: a larger "
        "first instance type, or smaller requests",
    )


def scheduling(view: RenderView) -> list[Finding]:
    groups = node_groups(view.document)
    if not groups:
        return []  # an existing cluster: its nodes are not in the render
    findings: list[Finding] = []
    for group in groups:
        unknown = [t for t in group.instance_types if t not in INSTANCE_TYPES]
        if unknown:
            findings.append(
                Finding(
                    "scheduling",
                    f"node group {group.name} ({group.urn})",
                    f"instance type(s) {', '.join(unknown)} are "
                    "not in the pinned table (components/cost/nodes.py): their capacity cannot be checked; add them",
                )
            )
    known = [g for g in groups if g.instance_type in INSTANCE_TYPES]
    placed: dict[str, list[Pod]] = {g.name: [] for g in known}
    for w in workloads(view.document):
        candidates = [g for g in known if admits(g, w.node_selector, w.tolerations)]
        if not candidates:
            findings.append(
                Finding(
                    "scheduling",
                    _owner(w),
                    "no node group's labels and taints admit it: it stays Pending; fix: match "
                    "a group's labels in its nodeSelector and tolerate that group's taints",
                )
            )
            continue
        fitting = [g for g in candidates if _fits(w, schedulable(g.instance_type))]
        if not fitting:
            findings.append(_too_large(w, candidates))
            continue
        group = fitting[0]
        if w.gpus and not _device_plugin_admits(view, group):
            findings.append(
                Finding(
                    "scheduling",
                    _owner(w),
                    f"requests {w.gpus} nvidia.com/gpu, but no NVIDIA device plugin pod schedules on {group.name} "
                    f"(labels {dict(group.labels)}): no node advertises a GPU and the pod stays Pending; fix: install "
                    "the device plugin with an affinity and tolerations that match the GPU group",
                )
            )
        placed[group.name].extend([Pod(w.cpu_m, w.memory_mib, w.gpus)] * w.min)
    for group in known:
        if not placed[group.name]:
            continue
        needed = pack(placed[group.name], schedulable(group.instance_type)).nodes
        if needed > group.max:
            findings.append(
                Finding(
                    "scheduling",
                    f"node group {group.name} ({group.urn})",
                    f"the minimum replicas of the {len(placed[group.name])} pods placed here need at least {needed} "
                    f"{group.instance_type} nodes, but the group's max is {group.max}: the rest stay Pending; fix: "
                    "raise max, use a larger first instance type, or lower requests or minimum replicas",
                )
            )
    return findings
