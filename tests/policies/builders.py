"""Hand-built pulumi-policy arguments, as the analyzer hands them to the rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

STACK_URN = "urn:pulumi:prod::ml-serving::pulumi:pulumi:Stack::ml-serving-prod"


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:prod::ml-serving::{resource_type}::{name}"


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], STACK_URN)


def resource_args(
    resource_type: str, name: str, props: Mapping[str, Any], config: Mapping[str, Any] | None = None
) -> ResourceValidationArgs:
    return ResourceValidationArgs(resource_type, props, urn(resource_type, name), name, _options(), None, config)


def policy_resource(
    resource_type: str, name: str, props: Mapping[str, Any], depends: Mapping[str, list[PolicyResource]] | None = None
) -> PolicyResource:
    return PolicyResource(
        resource_type, props, urn(resource_type, name), name, _options(), None, None, [], dict(depends or {})
    )


def stack_args(*resources: PolicyResource, config: Mapping[str, Any] | None = None) -> StackValidationArgs:
    return StackValidationArgs(list(resources), config)


class Reports:
    """A ``report_violation`` that keeps what it was told."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.urns: list[str | None] = []

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.messages.append(message)
        self.urns.append(urn)

    def __len__(self) -> int:
        return len(self.messages)

    def text(self) -> str:
        return "\n".join(self.messages)


def run(rule, args) -> Reports:
    reports = Reports()
    rule(args, reports)
    return reports
