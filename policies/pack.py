"""Turn the rules into pulumi-policy ``Policy`` objects (the pack's ``__main__.py`` builds the pack).

Resource and stack rules are handed over as they are. A spec rule becomes a stack validation that
finds the rollout spec in the gateway's ConfigMap. File rules need the stack file, which a policy
pack never sees, so only the offline checker runs them.
"""

from __future__ import annotations

from pulumi_policy import (
    Policy,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.catalog import RULES
from policies.rollout import spec_from_resources
from policies.rule import ReportViolation, Rule

__all__ = ["PACK_NAME", "to_policy", "policies"]

PACK_NAME = "ml-serving"


def _spec_validation(rule: Rule):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        spec = spec_from_resources(args.resources, {**rule.defaults, **args.get_config()})
        if spec is not None:
            rule.validate(spec, report_violation)

    validate.__name__ = rule.validate.__name__
    return validate


def to_policy(rule: Rule) -> Policy | None:
    """The pulumi-policy form of ``rule``; None for a rule only the offline checker can run."""
    common = {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": rule.enforcement_level,
        "config_schema": rule.config_schema,
    }
    if rule.kind == "resource":
        return ResourceValidationPolicy(validate=rule.validate, **common)
    if rule.kind == "stack":
        return StackValidationPolicy(validate=rule.validate, **common)
    if rule.kind == "spec":
        return StackValidationPolicy(validate=_spec_validation(rule), **common)
    return None


def policies() -> list[Policy]:
    return [policy for policy in map(to_policy, RULES) if policy is not None]
