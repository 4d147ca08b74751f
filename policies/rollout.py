"""Rules over the rollout spec: canary limits, the promotion path, fallbacks, GPU batching.

These see the validated models of a stack (``SpecArgs``). The offline checker reads them from the
stack file; the policy pack reads them from the inputs of the gateway's ConfigMap (a
``runtime.wiring.GatewayConfig``), which the engine knows in every preview, first or not, and
checks them before anything is created. ``rollout_spec_found`` makes a cloud stack without that
ConfigMap a violation instead of a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs
from pydantic import ValidationError

from policies.rule import PRODUCTION_STACKS, ReportViolation, SpecArgs, known
from runtime.errors import SpecError
from runtime.spec import STACKS_DIR, StackSpec, load_stack_file, stack_file
from runtime.wiring import GatewayConfig

__all__ = [
    "DEFAULT_MAX_CANARY_WEIGHT",
    "canary_weight_max",
    "promotion_path",
    "fallback_required",
    "gpu_batching",
    "spec_from_config_map",
    "rollout_spec_found",
    "staging_stack_file",
    "GATEWAY_CONFIG_KEY",
]

DEFAULT_MAX_CANARY_WEIGHT = 50.0
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


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


def _staging_served(args: SpecArgs) -> tuple[set[str], str]:
    """The versions staging serves and where that was read: its deployed spec when the workflow
    fetched it (``stagingSpecFile``: the staging stack's ``specJson`` output), else its stack file."""
    deployed = args.get_config().get("stagingSpecFile")
    if deployed:
        path = Path(deployed)
        try:
            spec = StackSpec.model_validate_json(path.read_text())
        except (OSError, ValidationError) as exc:
            raise SpecError(
                [f"{path}: not the staging stack's specJson output ({' '.join(str(exc).split())[:200]})"]
            ) from None
        return _served(spec.models.values()), f"the spec staging serves ({path.name}, its specJson output)"
    path = staging_stack_file(args)
    return _served(load_stack_file(path).models.values()), path.name


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
    try:
        staging, source = _staging_served(args)
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
                f"{variant.weight:g}% of live traffic in {args.stack} but {source} does not serve it. "
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


GATEWAY_CONFIG_KEY = "gateway.json"
"""The key of the gateway's ConfigMap that holds its ``GatewayConfig`` (the validated specs)."""
GATEWAY_COMPONENT = "ml-serving:index:Gateway"


def _gateway_config(text: Any) -> GatewayConfig | None:
    if not isinstance(text, str):
        return None
    try:
        return GatewayConfig.model_validate_json(text)
    except ValidationError:
        return None


def spec_from_config_map(args: ResourceValidationArgs, config: Mapping[str, Any]) -> SpecArgs | None:
    """The models of the stack as the gateway's ConfigMap hands them to the gateway, or None.

    Reads the resource's inputs, which the engine knows before anything is created (the gateway
    component builds the config from plain strings). Raises ``UnknownValueError`` when the
    config is unknown after all.
    """
    if args.resource_type != CONFIG_MAP:
        return None
    data = args.props.get("data")
    text = data.get(GATEWAY_CONFIG_KEY) if isinstance(data, Mapping) else None
    found = _gateway_config(text)
    if found is None:
        return None
    return SpecArgs(
        stack=found.stack,
        models=found.models,
        source=f"ConfigMap {args.name!r} data.{GATEWAY_CONFIG_KEY}",
        urn=args.urn,
        config=config,
    )


def rollout_spec_found(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A cloud stack carries its rollout spec where the spec rules read it: the gateway's ConfigMap."""
    if not any(r.resource_type.startswith(("aws:", "eks:")) for r in args.resources):
        return
    config_maps = [
        r
        for r in args.resources
        if r.resource_type == CONFIG_MAP and r.parent is not None and r.parent.resource_type == GATEWAY_COMPONENT
    ]
    if not config_maps:
        report_violation(
            "This cloud stack has no gateway ConfigMap carrying the rollout spec, so the canary, promotion, "
            "fallback and GPU-batching rules have nothing to judge and would pass a 60% canary or a model "
            f"without a fallback. Deploy the gateway (components/gateway.py) with its {GATEWAY_CONFIG_KEY} ConfigMap."
        )
    for resource in config_maps:
        data = known(resource.props, "data")
        if not isinstance(data, Mapping) or known(data, GATEWAY_CONFIG_KEY) is None:
            continue  # no outputs yet (a first preview): the spec rules judged its inputs
        if _gateway_config(data[GATEWAY_CONFIG_KEY]) is None:
            report_violation(
                f"ConfigMap {resource.name!r} data.{GATEWAY_CONFIG_KEY} does not hold a valid gateway config, so the "
                "rollout rules cannot judge what the gateway serves. Let the gateway component write it from the "
                "validated spec.",
                resource.urn,
            )
