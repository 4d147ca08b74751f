"""Reading a stack file, validating its project keys, and reporting each problem on one line that
names the stack file, the key path and what was expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from runtime.errors import SpecError, validation_problems
from runtime.spec.common import PROJECT, SECRET_PLACEHOLDER
from runtime.spec.stack import StackSpec

STACKS_DIR = Path(__file__).resolve().parents[2] / "stacks"


def stack_file(stack: str, stacks_dir: Path | None = None) -> Path:
    return (stacks_dir or STACKS_DIR) / f"Pulumi.{stack}.yaml"


def _stack_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # The routing policy is a tagged union: pydantic puts the member's tag (``sticky``) in the
    # location, but the stack file has no such key.
    return tuple(part for i, part in enumerate(loc) if tuple(loc[max(i - 2, 0) : i]) != ("routing", "policy"))


def _problems(source: str, exc: ValidationError) -> list[str]:
    """Each problem as ``<source>: ml-serving:<key path>: <what was expected>``."""
    lines = validation_problems(
        [{**error, "loc": _stack_loc(error["loc"])} for error in exc.errors(include_url=False)],
        root=PROJECT,
        prefix=f"{PROJECT}:",
        unknown_key="unknown key (check the spelling; keys are camelCase)",
    )
    return [f"{source}: {line}" for line in lines]


def validate_config(config: dict[str, Any], stack: str, source: str | None = None) -> StackSpec:
    """Validate the project keys of a stack's config (keys as in the stack file)."""
    source = source or f"stacks/Pulumi.{stack}.yaml"
    problems = []
    for key in ("platform", "models"):
        if f"{PROJECT}:{key}" not in config:
            problems.append(f"{source}: {PROJECT}:{key}: required key is missing")
    unknown = sorted(k for k in config if k.startswith(f"{PROJECT}:") and k.split(":", 1)[1] not in _PROJECT_KEYS)
    for key in unknown:
        problems.append(f"{source}: {key}: unknown key; expected one of {', '.join(sorted(_PROJECT_KEYS))}")
    if problems:
        raise SpecError(problems)
    data = {"stack": stack, "platform": config[f"{PROJECT}:platform"], "models": config[f"{PROJECT}:models"]}
    try:
        return StackSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_problems(source, exc)) from None


# Project keys that hold something other than the spec: secrets read by __main__.py.
_SECRET_KEYS = {"gatewayTokens", "alertWebhookUrl"}
_PROJECT_KEYS = {"platform", "models", *_SECRET_KEYS}


def required_secrets(spec: StackSpec) -> tuple[str, ...]:
    """The secret config keys (``ml-serving:<key>``) the program cannot deploy ``spec`` without.

    Stack files ship without them: each is set once per stack with ``pulumi config set --secret``,
    which encrypts it with the stack's ``secretsprovider``.
    """
    return (f"{PROJECT}:gatewayTokens",) if spec.platform.gateway.auth_required else ()


def require_secrets(spec: StackSpec, is_set: Callable[[str], bool], source: str | None = None) -> None:
    """Raise a ``SpecError`` naming each required secret that ``is_set`` (given the key) says is unset."""
    source = source or f"stacks/Pulumi.{spec.stack}.yaml"
    missing = [key for key in required_secrets(spec) if not is_set(key)]
    if missing:
        raise SpecError(
            [
                f"{source}: {key}: required secret is not set; set it with "
                f"`pulumi config set --secret {key} <value> --stack {spec.stack}` "
                "(the stack's secretsprovider encrypts it into the stack file)"
                for key in missing
            ]
        )


def read_stack_config(path: Path) -> tuple[dict[str, Any], set[str]]:
    """Read a stack file's ``config:`` map. ``secure:`` values become a placeholder.

    Returns the config and the set of keys whose value is a secret.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError([f"{path}: no such stack file"]) from None
    except yaml.YAMLError as exc:
        raise SpecError([f"{path}: not valid YAML: {' '.join(str(exc).split())}"]) from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise SpecError([f"{path}: expected a mapping with a 'config:' mapping"])
    config: dict[str, Any] = {}
    secrets: set[str] = set()
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.add(key)
            value = SECRET_PLACEHOLDER
        elif _has_secure(value):
            secrets.add(key)
        config[key] = value
    return config, secrets


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value and len(value) == 1 or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def load_stack_file(path: Path) -> StackSpec:
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config, _ = read_stack_config(path)
    try:
        source = str(path.relative_to(Path.cwd()))
    except ValueError:
        source = str(path)
    return validate_config(config, stack, source)


def existing_stack_file(stack: str, stacks_dir: Path | None = None) -> Path:
    """``stacks/Pulumi.<stack>.yaml``; an unknown stack is a ``SpecError`` listing the known ones."""
    path = stack_file(stack, stacks_dir)
    if not path.exists():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in path.parent.glob("Pulumi.*.yaml"))
        raise SpecError(
            [f"unknown stack '{stack}': no {path.name} in {path.parent}; known stacks: {', '.join(known) or 'none'}"]
        )
    return path


def load_stack(stack: str, stacks_dir: Path | None = None) -> StackSpec:
    """Load and validate ``stacks/Pulumi.<stack>.yaml``."""
    return load_stack_file(existing_stack_file(stack, stacks_dir))
