"""Rule ``kserve-runtime-admission``: what KServe's serving-runtime webhook would deny.

The controller's validating webhook (``failurePolicy: Fail``; upstream
``pkg/webhook/admission/servingruntime/servingruntime_webhook.go``, read at the pinned tag in
``../shared/charts/kserve-<version>/source``) denies a ClusterServingRuntime that auto-selects a
model format and version at the same priority as another enabled runtime with a protocol in
common, and one whose own auto-selected formats disagree on priority. The other runtimes include
the chart's built-ins (``templates/clusterservingruntimes.yaml``), enabled unless the release's
values switch them off. An InferenceService must also name a runtime that will exist.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from components.deployability.charts import chart_folder, effective_values
from components.deployability.render_view import Finding, RenderView, label

__all__ = ["builtin_runtimes", "kserve_runtime_admission"]

_DIRECTIVE_LINE = re.compile(r"\s*\{\{-?[^}]*\}\}\s*")
_DISABLED = re.compile(r"disabled:\s*\{\{\s*\.Values\.([\w.]+)\s*\}\}")


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def builtin_runtimes(view: RenderView) -> list[dict[str, Any]]:
    """The ClusterServingRuntimes the KServe chart itself creates, with ``disabled`` resolved."""
    release = view.release("kserve")
    if release is None:
        return []
    folder = chart_folder(release.chart, release.version)
    template = folder / "templates" / "clusterservingruntimes.yaml" if folder else None
    if template is None or not template.exists():
        return []
    values = effective_values(release)
    runtimes = []
    for chunk in template.read_text().split("\n---"):
        text = "\n".join(line for line in chunk.splitlines() if not _DIRECTIVE_LINE.fullmatch(line))
        disabled = _DISABLED.search(text)
        manifest = yaml.safe_load(re.sub(r"\{\{.*?\}\}", "templated", text))
        if not manifest:
            continue
        manifest["spec"]["disabled"] = bool(_lookup(values, disabled.group(1))) if disabled else False
        runtimes.append(manifest)
    return runtimes


def _auto(fmt: dict[str, Any]) -> bool:
    return bool(fmt.get("autoSelect"))


def _same_format(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return str(a.get("name", "")).lower() == str(b.get("name", "")).lower() and a.get("version") == b.get("version")


def _priority_clash(new: dict[str, Any], existing: dict[str, Any]) -> str | None:
    """validateServingRuntimePriority: the format both auto-select at one priority, if any."""
    if bool(new.get("multiModel")) != bool(existing.get("multiModel")) or existing.get("disabled"):
        return None
    if not set(new.get("protocolVersions") or []) & set(existing.get("protocolVersions") or []):
        return None
    for theirs in existing.get("supportedModelFormats") or []:
        for ours in new.get("supportedModelFormats") or []:
            if _auto(theirs) and _auto(ours) and _same_format(theirs, ours):
                if theirs.get("priority") is not None and theirs.get("priority") == ours.get("priority"):
                    return f"{ours.get('name')} v{ours.get('version')} at priority {ours.get('priority')}"
    return None


def _inconsistent_priority(spec: dict[str, Any]) -> str | None:
    """validateModelFormatPrioritySame: one runtime, one priority per auto-selected format name."""
    seen: dict[str, Any] = {}
    for fmt in spec.get("supportedModelFormats") or []:
        if not _auto(fmt):
            continue
        name = fmt.get("name")
        if (
            name in seen
            and seen[name] is not None
            and fmt.get("priority") is not None
            and seen[name] != fmt.get("priority")
        ):
            return str(name)
        seen.setdefault(name, fmt.get("priority"))
    return None


def kserve_runtime_admission(view: RenderView) -> list[Finding]:
    findings = []
    ours = [(urn, m) for urn, m in view.of_kind("ClusterServingRuntime")]
    builtins = builtin_runtimes(view)
    every = [(m["metadata"]["name"], m["spec"], "the KServe chart's built-in") for m in builtins]
    every += [(m["metadata"]["name"], m.get("spec") or {}, "the stack's") for _, m in ours]
    for urn, manifest in ours:
        name, spec = manifest["metadata"]["name"], manifest.get("spec") or {}
        if spec.get("disabled"):
            continue
        fmt = _inconsistent_priority(spec)
        if fmt:
            findings.append(
                Finding(
                    "kserve-runtime-admission",
                    label(manifest, urn),
                    f"KServe's runtime webhook (failurePolicy Fail) denies it: different priorities assigned for the "
                    f"model format {fmt}; fix: give every auto-selected entry of {fmt} one priority",
                )
            )
        for other, other_spec, whose in every:
            if other == name:
                continue
            clash = _priority_clash(spec, other_spec)
            if clash:
                findings.append(
                    Finding(
                        "kserve-runtime-admission",
                        label(manifest, urn),
                        f"KServe's runtime webhook (failurePolicy Fail) denies it: {whose} ClusterServingRuntime "
                        f"'{other}' also auto-selects {clash}, so the create fails and every InferenceService on it "
                        f"waits forever; fix: disable '{other}' in the kserve release's values, or give this runtime a "
                        "priority no other runtime uses for that format",
                    )
                )
    enabled = {n for n, s, _ in every if not s.get("disabled")}
    for urn, isvc in view.of_kind("InferenceService"):
        model = ((isvc.get("spec") or {}).get("predictor") or {}).get("model") or {}
        runtime = model.get("runtime")
        if runtime and runtime not in enabled:
            findings.append(
                Finding(
                    "kserve-runtime-admission",
                    label(isvc, urn),
                    f"names runtime '{runtime}', which no enabled ClusterServingRuntime of the stack or the chart "
                    f"provides (enabled: {', '.join(sorted(enabled)) or 'none'}): KServe never creates its predictor; "
                    "fix: name an enabled runtime",
                )
            )
    return findings
