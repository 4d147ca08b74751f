"""The pods a render asks for: requests (with the injected Istio sidecar), placement, minimum count."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from components.deployability.charts import effective_values
from components.deployability.render_view import RenderView, label

__all__ = ["Pod", "pods", "cpu_millicores", "memory_mib", "required_terms"]

_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_MEMORY_UNITS = {"": 1 / 2**20, "k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20, "T": 1e12 / 2**20,
                 "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024**2}
GPU_RESOURCE = "nvidia.com/gpu"


def cpu_millicores(quantity: Any) -> int:
    text = str(quantity)
    return int(float(text[:-1])) if text.endswith("m") else int(float(text) * 1000)


def memory_mib(quantity: Any) -> int:
    match = _QUANTITY.match(str(quantity))
    if not match or match.group(2) not in _MEMORY_UNITS:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)] + 0.999)


@dataclass(frozen=True)
class Pod:
    owner: str
    """The object that creates it (kind namespace/name and URN)."""
    cpu_m: int
    memory_mib: int
    gpus: int
    min_replicas: int
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict, ...] = ()
    affinity_terms: tuple[dict, ...] = ()
    """Required node affinity: any term matches (each term: all its expressions)."""
    sidecar: bool = False


def _requests(containers: list[dict[str, Any]]) -> tuple[int, int, int]:
    cpu = memory = gpus = 0
    for container in containers:
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = {**limits, **(resources.get("requests") or {})}  # requests default to limits
        cpu += cpu_millicores(requests["cpu"]) if "cpu" in requests else 0
        memory += memory_mib(requests["memory"]) if "memory" in requests else 0
        gpus += int(limits.get(GPU_RESOURCE, requests.get(GPU_RESOURCE, 0)))
    return cpu, memory, gpus


def _sidecar_requests(view: RenderView) -> tuple[int, int]:
    istiod = view.release("istiod")
    if istiod is None:
        return 0, 0
    requests = (((effective_values(istiod).get("global") or {}).get("proxy") or {}).get("resources") or {}).get("requests") or {}
    return cpu_millicores(requests.get("cpu", "0")), memory_mib(requests.get("memory", "0Mi"))


def required_terms(affinity: dict[str, Any] | None) -> tuple[dict, ...]:
    required = ((affinity or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    return tuple(required.get("nodeSelectorTerms") or ())


def _hpa_minimums(view: RenderView) -> dict[tuple[str, str, str], int]:
    out = {}
    for _, hpa in view.of_kind("HorizontalPodAutoscaler"):
        spec, meta = hpa.get("spec") or {}, hpa.get("metadata") or {}
        target = spec.get("scaleTargetRef") or {}
        out[(target.get("kind"), meta.get("namespace"), target.get("name"))] = int(spec.get("minReplicas", 1))
    return out


def _injected(view: RenderView, namespace: str | None, annotations: dict[str, Any]) -> bool:
    return namespace in view.injected_namespaces and str(annotations.get("sidecar.istio.io/inject", "true")).lower() != "false"


def pods(view: RenderView) -> Iterator[Pod]:
    """One entry per workload object the stack itself creates (Helm charts' pods excluded)."""
    sidecar_cpu, sidecar_memory = _sidecar_requests(view)
    hpa = _hpa_minimums(view)
    for urn, manifest in view.objects:
        kind, meta = manifest.get("kind"), manifest.get("metadata") or {}
        namespace = meta.get("namespace")
        if kind in ("Deployment", "StatefulSet"):
            spec = manifest.get("spec") or {}
            template = spec.get("template") or {}
            pod_spec, pod_meta = template.get("spec") or {}, template.get("metadata") or {}
            replicas = hpa.get((kind, namespace, meta.get("name")), spec.get("replicas", 1))
            containers = pod_spec.get("containers") or []
        elif kind == "InferenceService":
            pod_spec = (manifest.get("spec") or {}).get("predictor") or {}
            pod_meta = {"annotations": meta.get("annotations") or {}}
            replicas = pod_spec.get("minReplicas", 1)
            containers = [pod_spec.get("model") or {}, *(pod_spec.get("containers") or [])]
        else:
            continue
        cpu, memory, gpus = _requests(containers)
        sidecar = _injected(view, namespace, pod_meta.get("annotations") or {})
        if sidecar:
            cpu, memory = cpu + sidecar_cpu, memory + sidecar_memory
        yield Pod(
            owner=label(manifest, urn),
            cpu_m=cpu,
            memory_mib=memory,
            gpus=gpus,
            min_replicas=int(replicas),
            node_selector=dict(pod_spec.get("nodeSelector") or {}),
            tolerations=tuple(pod_spec.get("tolerations") or ()),
            affinity_terms=required_terms(pod_spec.get("affinity")),
            sidecar=sidecar,
        )
