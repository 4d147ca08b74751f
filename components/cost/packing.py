"""How many nodes of a group the pods placed on it need: first-fit decreasing, as a scheduler would pack.

Each pod needs CPU, memory, GPUs and one pod slot; a node offers its allocatable. Pods that fit no
empty node are returned apart (the autoscaler cannot place them on this group at all).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.cost.nodes import Allocatable

__all__ = ["Pod", "Packing", "pack"]


@dataclass(frozen=True)
class Pod:
    cpu_m: int
    memory_mib: int
    gpus: int


@dataclass(frozen=True)
class Packing:
    nodes: int
    unplaceable: int


def _fits(pod: Pod, free: list[int]) -> bool:
    return pod.cpu_m <= free[0] and pod.memory_mib <= free[1] and pod.gpus <= free[2] and free[3] >= 1


def pack(pods: list[Pod], node: Allocatable) -> Packing:
    capacity = [node.cpu_m, node.memory_mib, node.gpus, node.pods]
    order = sorted(
        pods,
        key=lambda p: (p.gpus / max(node.gpus, 1), p.cpu_m / capacity[0], p.memory_mib / capacity[1]),
        reverse=True,
    )
    nodes: list[list[int]] = []
    unplaceable = 0
    for pod in order:
        if not _fits(pod, capacity):
            unplaceable += 1
            continue
        for free in nodes:
            if _fits(pod, free):
                break
        else:
            free = list(capacity)
            nodes.append(free)
        free[0] -= pod.cpu_m
        free[1] -= pod.memory_mib
        free[2] -= pod.gpus
        free[3] -= 1
    return Packing(len(nodes), unplaceable)
