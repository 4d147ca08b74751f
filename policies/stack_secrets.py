"""The stack-file rule: a config key that names a secret holds a Pulumi secret, never plain text.

A policy pack never sees stack config, so only the offline checker runs this rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policies.rule import ReportViolation, StackFileArgs

__all__ = ["SECRET_KEY", "names_secret", "no_plaintext_secrets"]

SECRET_KEY = re.compile(
    r"password|passwd|token|secret|access[-_]?key|private[-_]?key|api[-_]?key|credential|webhook", re.I
)
"""What a key's last segment says when its value must be a secret (a webhook URL carries its own token)."""


def names_secret(key: str) -> bool:
    return bool(SECRET_KEY.search(key.rsplit(":", 1)[-1]))


def _is_secure(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"secure"}


def _plaintext(path: str, value: Any) -> Iterator[str]:
    """Key paths below ``path`` that name a secret and hold a plain value."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            child_path = f"{path}.{key}"
            if _is_secure(child):
                continue
            if names_secret(str(key)) and isinstance(child, (str, int, float)) and not isinstance(child, bool):
                yield child_path
            else:
                yield from _plaintext(child_path, child)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _plaintext(f"{path}[{i}]", child)


def no_plaintext_secrets(args: StackFileArgs, report_violation: ReportViolation) -> None:
    for key, value in args.config.items():
        if key in args.secret_keys:
            continue
        if names_secret(key) and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            found = [key]
        else:
            found = list(_plaintext(key, value))
        for path in found:
            report_violation(
                f"{path} holds a plaintext value but names a secret. Anything in a stack file is "
                "in git history and every clone forever. Rotate the value, then store it encrypted with "
                f"`pulumi config set --secret {path.split('.', 1)[0]} ... -s {args.stack}` (a `secure:` value); "
                "for cloud credentials prefer OIDC role assumption over keys in config."
            )
