"""The offline policy check: the pack's rules over the offline render and the stack file.

    ml-serving check --stack prod --only policies     # or: python -m policies.check --stack prod

renders the stack without a cloud (``components.render``), runs every rule of the policy pack
over it, runs the rollout-spec and stack-file rules over ``stacks/Pulumi.<stack>.yaml``, and
prints one line per violation with its enforcement level, rule and resource. Levels come from
``policies/config/<stack>.json`` (the file ``pulumi preview --policy-pack-config`` takes).

Exit status: 0 when no mandatory rule is violated, 1 when one is, 2 when the stack (or its policy
config) fails to load or render.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError

from components.render import display_path, project_error, render
from policies.catalog import RULES
from policies.rule import PolicyConfig, Rule, SpecArgs, StackFileArgs, Violation
from runtime.errors import SpecError
from runtime.spec import StackSpec, existing_stack_file, read_stack_config, stack_file, validate_config

__all__ = ["LoadedStack", "load", "evaluate", "main"]


@dataclass(frozen=True)
class LoadedStack:
    """A stack as the checker sees it: its file, config, validated spec and offline render."""

    name: str
    path: Path
    display: str
    config: Mapping[str, Any]
    secret_keys: frozenset[str]
    spec: StackSpec
    document: Mapping[str, Any]
    stack_file: Mapping[str, Any] = field(default_factory=dict)
    """The stack file as written (secrets provider, raw ``secure:`` values)."""


def load(stack: str, stacks_dir: Path | None = None) -> LoadedStack:
    """Read, validate and render ``stack``; any failure is a ``SpecError`` with one line per problem."""
    path = existing_stack_file(stack, stacks_dir)
    config, secret_keys = read_stack_config(path)
    spec = validate_config(config, stack, display_path(path))
    try:
        document = render(stack, path.parent)
    except Exception as exc:  # noqa: BLE001 - a render failure is a load failure, reported in one line
        error = project_error(exc)
        if isinstance(error, SpecError):
            raise error from None
        detail = error.message if error is not None else f"{type(exc).__name__}: {exc}"
        raise SpecError([f"{display_path(path)}: the offline render failed: {detail}"]) from None
    return LoadedStack(
        stack,
        path,
        display_path(path),
        config,
        frozenset(secret_keys),
        spec,
        document,
        yaml.safe_load(path.read_text()) or {},
    )


def _options(parent: str | None) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def _props(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A rendered resource's inputs plus the id the render's mocks gave it (how siblings refer to it)."""
    from pulumi.runtime import MockResourceArgs

    from components.mocks import RenderMocks

    props = dict(resource.get("inputs") or {})
    if resource.get("custom", True):
        mock_id, _ = RenderMocks().new_resource(MockResourceArgs(resource["type"], resource["name"], dict(props)))
        props.setdefault("id", mock_id)
    return props


def _policy_resources(document: Mapping[str, Any]) -> list[PolicyResource]:
    resources = {
        r["urn"]: PolicyResource(
            r["type"], _props(r), r["urn"], r["name"], _options(r.get("parent")), None, None, [], {}
        )
        for r in document.get("resources") or []
    }
    for resource in resources.values():
        resource.parent = resources.get(resource.opts.parent or "")
    return list(resources.values())


def evaluate(loaded: LoadedStack, policy_config: PolicyConfig) -> list[Violation]:
    """Every violation of every enabled rule, in rule order."""
    resources = _policy_resources(loaded.document)
    staging = str(stack_file("staging", loaded.path.parent))
    violations: list[Violation] = []
    for rule in RULES:
        level = policy_config.level(rule)
        if level is EnforcementLevel.DISABLED:
            continue
        config = policy_config.properties(rule)

        def report(message: str, urn: str | None = None, *, rule: Rule = rule, level=level, at: str = "") -> None:
            violations.append(Violation(rule.name, level, message, urn or at or loaded.display))

        if rule.kind == "resource":
            for resource in resources:
                args = ResourceValidationArgs(
                    resource.resource_type, resource.props, resource.urn, resource.name, resource.opts, None, config
                )
                _judge(rule, args, lambda message, urn=None, r=resource: report(message, urn or r.urn))
        elif rule.kind == "stack":
            _judge(rule, StackValidationArgs(resources, {"stackFile": str(loaded.path), **config}), report)
        elif rule.kind == "spec":
            _judge(
                rule,
                SpecArgs(loaded.name, loaded.spec.models, loaded.display, {"stagingStackFile": staging, **config}),
                report,
            )
        else:
            file_args = StackFileArgs(
                loaded.name, loaded.display, loaded.config, loaded.secret_keys, config, loaded.stack_file
            )
            _judge(rule, file_args, report)
    return violations


def _judge(rule: Rule, args: Any, report: Any) -> None:
    """Run one rule; a rule that cannot judge says so (as in the pack) and reports nothing."""
    try:
        rule.validate(args, report)
    except _NotApplicableError as exc:
        print(f"note: {rule.name} not applicable: {exc.reason}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """``python -m policies.check``: ``ml-serving check --only policies`` (cli/check.py)."""
    from cli import forward

    return forward(["check", "--only", "policies"], argv)


if __name__ == "__main__":
    sys.exit(main())
