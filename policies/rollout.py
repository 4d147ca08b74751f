"""Rules over the rollout spec: canary limits, the promotion path, fallbacks, GPU batching.

These see the validated models of a stack (``SpecArgs``). The offline checker reads them from the
stack file; the policy pack recovers them from the gateway's config, the JSON the rollout
component writes into a ConfigMap (``runtime.wiring.GatewayConfig``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import ValidationError
from pulumi_policy import PolicyResource

from policies.rule import PRODUCTION_STACKS, ReportViolation, SpecArgs
from runtime.errors import SpecError
from runtime.spec import STACKS_DIR, load_stack_file, stack_file
from runtime.wiring import GatewayConfig, MonitorConfig

__all__ = [
    "DEFAULT_MAX_CANARY_WEIGHT",
    "canary_weight_max",
    "promotion_path",
    "fallback_required",
    "gpu_batching",
    "spec_from_resources",
    "staging_stack_file",
]

DEFAULT_MAX_CANARY_WEIGHT = 50.0
_CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def _production(args: SpecArgs) -> bool:
    return args.stack in set(args.get_config().get("productionStacks") or PRODUCTION_STACKS)


def canary_weight_max(args: SpecArgs, report_violation: ReportViolation) -> None:
    if not _production(args):
        return
    limit = float(args.get_config().get("maxCanaryWeight", DEFAULT_MAX_CANARY_WEIGHT))
    for name, model in args.models.items():
        canaries = [v for v in model.variants if v.role == "canary"]
        total = sum(v.weight or 0 for v in canaries)
        if total > limit:
            parts = " + ".join(f"{v.variant_name} {v.weight:g}" for v in canaries)
            report_violation(
                f"ml-serving:models.{name}: canaries take {parts} = {total:g}% of live traffic "
                f"in {args.stack}, above the limit of {limit:g}%. A canary is an unproven version: past the "
                "limit a bad release hurts most users before the drift and error alerts fire. Lower the "
                "canary weight (and raise the primary's), or promote the canary to primary once it has proven "
                "itself.",
                args.urn,
            )


def staging_stack_file(args: SpecArgs) -> Path:
    configured = args.get_config().get("stagingStackFile")
    return Path(configured) if configured else stack_file("staging", STACKS_DIR)


def _served(models: Iterable[Any]) -> set[str]:
    return {variant.model for model in models for variant in model.variants}


def promotion_path(args: SpecArgs, report_violation: ReportViolation) -> None:
    if not _production(args):
        return
    canaries = [
        (name, variant)
        for name, model in args.models.items()
        for variant in model.variants
        if variant.role == "canary" and (variant.weight or 0) > 0
    ]
    if not canaries:
        return
    path = staging_stack_file(args)
    try:
        staging = _served(load_stack_file(path).models.values())
    except SpecError as exc:
        report_violation(
            f"cannot check the promotion path: the staging stack does not load "
            f"({exc.problems[0]}). Every version that takes canary traffic in {args.stack} must be served "
            "in staging first; fix the staging stack file.",
            args.urn,
        )
        return
    for name, variant in canaries:
        if variant.model not in staging:
            report_violation(
                f"ml-serving:models.{name}: canary {variant.variant_name} ({variant.model}) takes "
                f"{variant.weight:g}% of live traffic in {args.stack} but {path.name} does not serve it. "
                "Versions go dev -> staging -> prod so each is exercised before real users see it. Add "
                f"{variant.model} to the staging stack (as shadow, canary or primary) and deploy it there first.",
                args.urn,
            )


def fallback_required(args: SpecArgs, report_violation: ReportViolation) -> None:
    if not _production(args):
        return
    for name, model in args.models.items():
        if model.fallback is None:
            report_violation(
                f"ml-serving:models.{name}: no fallback. In {args.stack} a request that no "
                "variant answers within the latency budget then fails with 503 instead of getting a safe "
                f"default. Declare ml-serving:models.{name}.fallback, e.g. {{value: 0}}, with rules if the "
                "safe answer depends on the input.",
                args.urn,
            )


def gpu_batching(args: SpecArgs, report_violation: ReportViolation) -> None:
    for name, model in args.models.items():
        if model.resources.gpu > 0 and model.batching is None:
            report_violation(
                f"ml-serving:models.{name}: uses {model.resources.gpu} GPU(s) per replica but "
                "declares no batching. A GPU serving one request at a time idles most of its cores, which "
                f"wastes the most expensive node in the cluster. Declare ml-serving:models.{name}.batching, "
                "e.g. {maxBatchSize: 32, maxLatencyMs: 10}.",
                args.urn,
            )


def _gateway_config(text: Any) -> GatewayConfig | MonitorConfig | None:
    if not isinstance(text, str) or '"models"' not in text:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    for model in (GatewayConfig, MonitorConfig):
        try:
            return model.model_validate(document)
        except ValidationError:
            continue
    return None


def spec_from_resources(resources: Iterable[PolicyResource], config: Mapping[str, Any]) -> SpecArgs | None:
    """The models of the stack as the gateway (or drift monitor) receives them, or None."""
    for resource in resources:
        if resource.resource_type != _CONFIG_MAP:
            continue
        for key, text in sorted((resource.props.get("data") or {}).items()):
            found = _gateway_config(text)
            if found is not None:
                return SpecArgs(
                    stack=found.stack,
                    models=found.models,
                    source=f"ConfigMap {resource.name!r} data.{key}",
                    urn=resource.urn,
                    config=config,
                )
    return None
