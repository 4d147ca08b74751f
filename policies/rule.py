"""What a rule is, and how a stack tightens it.

A rule is a plain function with the signature pulumi-policy expects:

- ``resource`` rules take ``(ResourceValidationArgs, report_violation)`` and see one resource;
- ``stack`` rules take ``(StackValidationArgs, report_violation)`` and relate resources;
- ``spec`` rules take ``(SpecArgs, report_violation)`` and see the validated rollout spec (the
  policy pack recovers it from the gateway's config in the resources; the offline checker reads
  it from the stack file);
- ``file`` rules take ``(StackFileArgs, report_violation)`` and see the stack file's config, which
  a policy pack never sees (the offline checker only).

The pack's ``__main__.py`` turns each rule into a pulumi-policy ``Policy``; the offline checker
calls the very same functions. Enforcement levels start at the rule's default and a stack
tightens them in ``policies/config/<stack>.json``, the file ``pulumi preview --policy-pack-config``
takes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pulumi_policy import EnforcementLevel, PolicyConfigSchema
from pulumi_policy.proxy import UnknownValueError

from runtime.errors import SpecError
from runtime.spec import ModelSpec, read_stack_config

__all__ = [
    "Rule",
    "SpecArgs",
    "StackFileArgs",
    "Violation",
    "PolicyConfig",
    "load_policy_config",
    "CONFIG_DIR",
    "PRODUCTION_STACKS",
    "known",
    "stack_file_args",
]

CONFIG_DIR = Path(__file__).resolve().parent / "config"
PRODUCTION_STACKS = ("prod",)
"""Stacks that the prod-only rules apply to unless a rule's ``productionStacks`` says otherwise."""

Kind = Literal["resource", "stack", "spec", "file"]
ReportViolation = Callable[..., None]


@dataclass(frozen=True)
class SpecArgs:
    """The argument bag of a spec rule: the stack's validated models and the rule's config."""

    stack: str
    models: Mapping[str, ModelSpec]
    source: str
    """Where the spec was read: a stack file, or the resource that carries the gateway config."""
    config: Mapping[str, Any] = field(default_factory=dict)
    urn: str | None = None
    """The resource that carries the spec (in the policy pack); None when read from the stack file."""

    def get_config(self) -> Mapping[str, Any]:
        return self.config


@dataclass(frozen=True)
class StackFileArgs:
    """The argument bag of a file rule: the stack file's ``config:`` map as written."""

    stack: str
    path: str
    config: Mapping[str, Any]
    """Keys as in the stack file; a ``secure:`` value appears as a placeholder or ``{"secure": ...}``."""
    secret_keys: frozenset[str]
    """Top-level keys whose value is a Pulumi secret."""
    rule_config: Mapping[str, Any] = field(default_factory=dict)
    stack_file: Mapping[str, Any] = field(default_factory=dict)
    """The whole stack file as written: ``secretsprovider``, ``encryptedkey``, raw ``secure:`` values."""

    def get_config(self) -> Mapping[str, Any]:
        return self.rule_config


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    kind: Kind
    validate: Callable[[Any, ReportViolation], None]
    enforcement_level: EnforcementLevel = EnforcementLevel.ADVISORY
    """The default; ``policies/config/<stack>.json`` tightens it per stack."""
    config_schema: PolicyConfigSchema | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Config values used when a stack's policy config leaves them out."""


@dataclass(frozen=True)
class Violation:
    rule: str
    level: EnforcementLevel
    message: str
    resource: str
    """The URN of the resource at fault, or the stack file (and key) for stack-wide findings."""

    @property
    def mandatory(self) -> bool:
        return self.level is EnforcementLevel.MANDATORY


@dataclass(frozen=True)
class PolicyConfig:
    """A pack config as ``--policy-pack-config`` reads it: rule -> level or {enforcementLevel, ...}."""

    entries: Mapping[str, Any] = field(default_factory=dict)
    source: str = "(defaults)"

    def level(self, rule: Rule) -> EnforcementLevel:
        for key in (rule.name, "all"):
            entry = self.entries.get(key)
            value = entry.get("enforcementLevel") if isinstance(entry, dict) else entry
            if value is not None:
                return EnforcementLevel(value)
        return rule.enforcement_level

    def properties(self, rule: Rule) -> dict[str, Any]:
        entry = self.entries.get(rule.name)
        own = {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, dict) else {}
        return {**rule.defaults, **own}


_LEVELS = {level.value for level in EnforcementLevel}


def load_policy_config(path: Path) -> PolicyConfig:
    """Read a pack config file; a missing file means every rule at its default."""
    if not path.exists():
        return PolicyConfig(source=f"{path} (absent: defaults)")
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecError([f"{path}: not valid JSON: {exc}"]) from None
    if not isinstance(entries, dict):
        raise SpecError([f"{path}: expected an object of rule name -> enforcement level or settings"])
    problems = []
    for name, entry in entries.items():
        value = entry.get("enforcementLevel") if isinstance(entry, dict) else entry
        if not isinstance(entry, (dict, str)) or (value is not None and value not in _LEVELS):
            problems.append(f"{path}: {name}: expected one of {', '.join(sorted(_LEVELS))} (got {value!r})")
    if problems:
        raise SpecError(problems)
    return PolicyConfig(entries=entries, source=str(path))


def known(props: Mapping[str, Any], key: str) -> Any:
    """``props[key]``, or None when the engine sent it as unknown (a preview's computed value)."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def stack_file_args(stack: str, path: Path, display: str, rule_config: Mapping[str, Any]) -> StackFileArgs:
    """A file rule's arguments from the stack file on disk (the file the engine read its config from)."""
    config, secret_keys = read_stack_config(path)
    raw = yaml.safe_load(path.read_text()) or {}
    return StackFileArgs(stack, display, config, frozenset(secret_keys), rule_config, raw)
