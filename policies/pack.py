"""Turn the rules into pulumi-policy ``Policy`` objects (the pack's ``__main__.py`` builds the pack).

What the engine hands a pack decides where each rule can judge (pulumi/pulumi
``pkg/resource/deploy/step_generator.go``): ``Analyze`` gets each resource's inputs before its
step runs, in every preview and ``up``; ``AnalyzeStack`` gets outputs once all steps are done, and
in a first preview every Kubernetes resource has none (the cluster's kubeconfig is unknown).

- Resource and stack rules are handed over as they are.
- A spec rule becomes a resource validation of the gateway's ConfigMap: its inputs hold the
  validated spec as a plain string, known in a first preview too, and a violation blocks ``up``
  before the ConfigMap (or anything after it) is created.
- A file rule becomes a resource validation of the root ``pulumi:pulumi:Stack`` resource (the
  first resource the engine analyzes) over the stack file beside the project: the config the
  language host passes a pack (``PULUMI_CONFIG``) is decrypted and says nothing of which values
  were ``secure:``, so only the file can tell a secret from plain text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pulumi_policy import (
    Policy,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policies.catalog import RULES
from policies.rollout import spec_from_config_map
from policies.rule import ReportViolation, Rule, stack_file_args
from runtime.spec import STACKS_DIR, stack_file

__all__ = ["PACK_NAME", "ROOT_STACK", "to_policy", "policies"]

PACK_NAME = "ml-serving"
ROOT_STACK = "pulumi:pulumi:Stack"

Validation = Callable[[ResourceValidationArgs, ReportViolation], None]


def _spec_validation(rule: Rule) -> Validation:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        try:
            spec = spec_from_config_map(args, {**rule.defaults, **args.get_config()})
        except UnknownValueError as exc:
            args.not_applicable(f"ConfigMap {args.name!r}: {exc.message}, so its rollout spec cannot be judged")
        if spec is not None:
            rule.validate(spec, report_violation)

    validate.__name__ = rule.validate.__name__
    return validate


def _stack_of(urn: str) -> str:
    """``urn:pulumi:<stack>::<project>::<type>::<name>`` -> ``<stack>``."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def _stack_file_validation(rule: Rule) -> Validation:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type != ROOT_STACK:
            return
        stack = _stack_of(args.urn)
        path = stack_file(stack, Path(os.environ.get("ML_SERVING_STACKS_DIR") or STACKS_DIR))
        if not path.exists():
            args.not_applicable(f"no stack file {path} beside the pack (a published pack cannot read it)")
        rule.validate(
            stack_file_args(stack, path, f"stacks/{path.name}", {**rule.defaults, **args.get_config()}),
            report_violation,
        )

    validate.__name__ = rule.validate.__name__
    return validate


def to_policy(rule: Rule) -> Policy:
    """The pulumi-policy form of ``rule``."""
    if rule.kind == "stack":
        return StackValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=rule.validate,
            enforcement_level=rule.enforcement_level,
            config_schema=rule.config_schema,
        )
    if rule.kind == "resource":
        validate = rule.validate
    elif rule.kind == "spec":
        validate = _spec_validation(rule)
    else:
        validate = _stack_file_validation(rule)
    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=rule.enforcement_level,
        config_schema=rule.config_schema,
    )


def policies() -> list[Policy]:
    return [to_policy(rule) for rule in RULES]
