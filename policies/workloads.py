"""Rules over Kubernetes workloads: pinned images, resource requests and limits, model lineage."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from policies.rule import ReportViolation
from runtime.wiring import LINEAGE_ANNOTATION_PREFIX

__all__ = [
    "INFERENCE_SERVICE",
    "LINEAGE_KEYS",
    "WORKLOAD_TYPES",
    "containers",
    "image_pinned",
    "images_pinned",
    "containers_have_resources",
    "model_lineage",
]

INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
LINEAGE_KEYS = ("run-id", "git-commit", "dataset-digest")

_POD_TEMPLATE = ("spec", "template", "spec")
_POD_SPEC_PATH = {
    "kubernetes:apps/v1:Deployment": _POD_TEMPLATE,
    "kubernetes:apps/v1:StatefulSet": _POD_TEMPLATE,
    "kubernetes:apps/v1:DaemonSet": _POD_TEMPLATE,
    "kubernetes:apps/v1:ReplicaSet": _POD_TEMPLATE,
    "kubernetes:batch/v1:Job": _POD_TEMPLATE,
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime": ("spec",),
    "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime": ("spec",),
}
_ISVC_COMPONENTS = ("predictor", "transformer", "explainer")
WORKLOAD_TYPES = frozenset(_POD_SPEC_PATH) | {INFERENCE_SERVICE}


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _listed(pod: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in ("initContainers", "containers"):
        for i, container in enumerate((pod or {}).get(kind) or []):
            if isinstance(container, Mapping):
                yield f"{path}.{kind}[{i}]", container


def containers(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every container of a workload as (path in the resource, container)."""
    if resource_type == INFERENCE_SERVICE:
        found: list[tuple[str, Mapping[str, Any]]] = []
        for component in _ISVC_COMPONENTS:
            spec = _dig(props, ("spec", component))
            if not isinstance(spec, Mapping):
                continue
            found.extend(_listed(spec, f"spec.{component}"))
            if isinstance(spec.get("model"), Mapping):
                found.append((f"spec.{component}.model", spec["model"]))
        return found
    path = _POD_SPEC_PATH.get(resource_type)
    if path is None:
        return []
    return list(_listed(_dig(props, path), ".".join(path)))


def image_pinned(image: str) -> bool:
    """True for ``repo@sha256:...`` or ``repo:tag`` with a tag other than ``latest``."""
    if "@" in image:
        return image.rsplit("@", 1)[1].startswith("sha256:")
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return bool(tag) and tag.lower() != "latest"


def images_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for path, container in containers(args.resource_type, args.props):
        image = container.get("image")
        if isinstance(image, str) and not image_pinned(image):
            report_violation(
                f"{path} ({container.get('name', '?')}) runs image {image!r}, which is untagged or 'latest'. "
                "A moving tag lets a node pull different code than was reviewed and makes rollbacks "
                "guesswork. Pin the image to a version tag (repo:1.2.3) or a digest (repo@sha256:...)."
            )


def _missing_resources(container: Mapping[str, Any]) -> list[str]:
    missing: list[str] = []
    for bound in ("requests", "limits"):
        values = _dig(container, ("resources", bound))
        if not isinstance(values, Mapping):
            values = {}
        missing.extend(f"{bound}.{name}" for name in ("cpu", "memory") if values.get(name) in (None, ""))
    return missing


def containers_have_resources(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for path, container in containers(args.resource_type, args.props):
        missing = _missing_resources(container)
        if missing:
            report_violation(
                f"{path} ({container.get('name', '?')}) has no resources.{', resources.'.join(missing)}. "
                "Without requests the scheduler overcommits nodes and the autoscaler cannot size them; "
                "without limits one replica can starve its neighbours. Set resources.requests and "
                "resources.limits with cpu and memory (the model's `resources` in the stack file)."
            )


def model_lineage(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != INFERENCE_SERVICE:
        return
    annotations = _dig(args.props, ("metadata", "annotations")) or {}
    missing = [
        f"{LINEAGE_ANNOTATION_PREFIX}{key}"
        for key in LINEAGE_KEYS
        if not str(annotations.get(f"{LINEAGE_ANNOTATION_PREFIX}{key}") or "").strip()
    ]
    if missing:
        report_violation(
            f"InferenceService {args.name!r} lacks lineage annotations {', '.join(missing)}. A served "
            "model that cannot be traced to its training run, code commit and dataset cannot be audited, "
            "reproduced or rolled back with confidence. Register the model with lineage, re-run the lock "
            "command for the stack so the lock file carries run id, git commit and dataset digest, and "
            "let the rollout component annotate the InferenceService from it."
        )
