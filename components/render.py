"""The offline render: the real Pulumi program under mocks, printed as JSON.

    ml-serving render --stack prod        # or: python -m components.render --stack prod

runs ``__main__.py`` with the config of ``stacks/Pulumi.prod.yaml`` under
``pulumi.runtime.set_mocks`` and prints every resource (type, name, parent, inputs) as one
deterministic JSON document. It needs no cloud, no Pulumi CLI and no secret plaintext: a
``secure:`` value renders as a placeholder, and so does a required secret the stack file does
not hold yet (listed under ``unsetSecrets``; ``--require-secrets`` fails instead, as
``pulumi up`` does). It is an inspection tool, not a deployment engine.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

from runtime.errors import MLServingError
from runtime.spec import (
    PROJECT,
    SECRET_PLACEHOLDER,
    existing_stack_file,
    read_stack_config,
    required_secrets,
    validate_config,
)

__all__ = ["render", "run_program", "main", "ROOT", "display_path", "project_error"]

ROOT = Path(__file__).resolve().parent.parent


def _config_strings(config: dict[str, Any]) -> dict[str, str]:
    """Pulumi hands structured config to a program as JSON text."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def _clean(value: Any) -> Any:
    """Drop Pulumi's internal keys and make a value JSON-ready and stable."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def run_program(
    stack: str,
    stacks_dir: Path | None = None,
    *,
    require_secrets: bool = False,
    mocks: Any = None,
    preview: bool = False,
) -> tuple[Any, list[str], set[str]]:
    """Run ``__main__.py`` for ``stack`` under mocks (``RenderMocks`` unless given).

    Returns the recording monitor, the required secrets the stack file does not hold (rendered
    as the placeholder unless ``require_secrets``) and the secret config keys.
    """
    import pulumi
    from pulumi.runtime.mocks import _sync_await
    from pulumi.runtime.stack import run_pulumi_func

    from components.mocks import RecordingMonitor, RenderMocks

    path = existing_stack_file(stack, stacks_dir)
    config, secret_keys = read_stack_config(path)
    spec = validate_config(config, stack, display_path(path))
    unset = [] if require_secrets else [key for key in required_secrets(spec) if key not in config]
    config.update({key: SECRET_PLACEHOLDER for key in unset})
    secret_keys |= set(unset)

    pulumi.runtime.set_all_config(_config_strings(config), sorted(secret_keys))
    mocks = mocks or RenderMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    os.environ["ML_SERVING_STACKS_DIR"] = str(path.parent)

    failure: list[BaseException] = []

    def program() -> None:
        try:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        except BaseException as exc:  # noqa: BLE001 - reported after the runtime settles
            failure.append(exc)

    _sync_await(run_pulumi_func(program))
    if failure:
        raise failure[0]
    return monitor, unset, secret_keys


def render(stack: str, stacks_dir: Path | None = None, *, require_secrets: bool = False) -> dict[str, Any]:
    """Run the Pulumi program for ``stack`` under mocks; return the render document.

    Raises ``SpecError`` (or another ``MLServingError``) for an unknown stack or bad config, and
    with ``require_secrets`` for a required secret the stack file does not hold.
    """
    monitor, unset, secret_keys = run_program(stack, stacks_dir, require_secrets=require_secrets)
    resources = sorted(monitor.registrations, key=lambda r: r.urn)
    return {
        "stack": stack,
        "project": PROJECT,
        "secretConfigKeys": sorted(secret_keys),
        "unsetSecrets": unset,
        "secretPlaceholder": SECRET_PLACEHOLDER,
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": r.parent,
                "custom": r.custom,
                "inputs": _clean(r.inputs),
                "dependencies": list(r.dependencies),
                "provider": r.provider,
            }
            for r in resources
        ],
    }


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def project_error(exc: BaseException) -> MLServingError | None:
    """The project error behind ``exc`` (Pulumi wraps what the program raised), if any."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MLServingError):
            return current
        current = current.__cause__ or current.__context__
    return None


def main(argv: list[str] | None = None) -> int:
    """``python -m components.render``: ``ml-serving render`` (cli/render.py)."""
    from cli import forward

    return forward(["render"], argv)


if __name__ == "__main__":
    sys.exit(main())
