"""The rule over Helm releases: an exact chart version, and pinned images in the values we set.

cert-manager, Istio, KServe, the cluster autoscaler and the NVIDIA device plugin each reach the
engine as one ``kubernetes:helm.sh/v3:Release``: the pods the chart renders are never resources
of the stack, so ``image-pinned`` and ``container-resources`` cannot see them, in a preview or an
update. What the pack can hold fixed is the input that decides them: the chart version (one
version is one set of templates, default images and default resources) and every image the
values override. The charts' own defaults are out of the pack's reach; the pinned chart
versions are what is reviewed, and upgrading one is a reviewed change to ``platform.versions``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs
from pulumi_policy.proxy import UnknownValueError

from policies.rule import ReportViolation, known
from policies.workloads import image_pinned

__all__ = ["HELM_RELEASE", "EXACT_VERSION", "value_images", "chart_pinned"]

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
"""One released chart: ``1.28.1``, ``v0.16.0``; not a range (``^1.28``, ``~1``, ``>=1``, ``1.x``) nor empty."""


def value_images(path: str, value: Any) -> Iterator[tuple[str, str]]:
    """``(values path, image)`` for each image the values set: ``image: repo:tag`` or
    ``image: {repository, tag}`` (the two shapes charts use)."""
    if isinstance(value, Mapping):
        for key in value:
            child = known(value, key)  # an unknown value (a role ARN in a preview) sets no image
            here = f"{path}.{key}" if path else str(key)
            if key == "image" and isinstance(child, str):
                yield here, child
            elif key == "image" and isinstance(child, Mapping) and isinstance(child.get("repository"), str):
                tag, digest = child.get("tag"), child.get("digest")
                suffix = (
                    f"@{digest}" if isinstance(digest, str) and digest else f":{tag}" if tag not in (None, "") else ""
                )
                yield here, f"{child['repository']}{suffix}"
            else:
                yield from value_images(here, child)
    elif isinstance(value, list):
        for i in range(len(value)):
            try:
                child = value[i]
            except UnknownValueError:
                continue
            yield from value_images(f"{path}[{i}]", child)


def chart_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != HELM_RELEASE:
        return
    chart, version = known(args.props, "chart"), known(args.props, "version")
    if not isinstance(version, str) or not EXACT_VERSION.match(version):
        report_violation(
            f"Helm release {args.name!r} (chart {chart!r}) has version {version!r}, not one released chart version. "
            "Without it each install may fetch different templates, images and resource defaults than were "
            "reviewed, and the pack never sees the chart's pods to catch it. Pin the chart in platform.versions, e.g. '1.28.1'."
        )
    for path, image in value_images("", known(args.props, "values") or {}):
        if not image_pinned(image):
            report_violation(
                f"Helm release {args.name!r} sets values.{path} to {image!r}, which is untagged or 'latest'. "
                "Pin the image to a version tag or a digest."
            )
