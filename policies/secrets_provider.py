"""The stack-file rule: every ``secure:`` value is a ciphertext the stack's secrets provider can open.

The engine decrypts all config before the program runs, so one value that no provider can decrypt
fails every ``pulumi preview`` and ``pulumi up`` of the stack. Pulumi's passphrase and cloud (KMS)
providers both write ``v1:<base64 12-byte nonce>:<base64 AES-256-GCM ciphertext and tag>``
(``sdk/go/common/resource/config/crypt.go``); the passphrase provider keeps its salt in
``encryptionsalt`` and a cloud provider its wrapped data key in ``encryptedkey``. The project
declares a provider per stack (``secretsprovider:``), so a value is never tied to whoever ran
``pulumi stack init``.
"""

from __future__ import annotations

import base64
import binascii
import string
from collections.abc import Iterator, Mapping
from typing import Any

from policies.rule import ReportViolation, StackFileArgs
from runtime.errors import SpecError
from runtime.spec import required_secrets, validate_config

__all__ = ["CLOUD_PROVIDERS", "NONCE_BYTES", "TAG_BYTES", "secure_values", "ciphertext_problem", "secrets_decryptable"]

CLOUD_PROVIDERS = ("awskms://", "azurekeyvault://", "gcpkms://", "hashivault://")
NONCE_BYTES = 12
TAG_BYTES = 16
_PRINTABLE = set(string.printable.encode())


def secure_values(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    """``(key path, ciphertext)`` for every ``{secure: ...}`` at or below ``value``."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            yield path, value["secure"]
            return
        for key, child in value.items():
            yield from secure_values(f"{path}.{key}", child)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from secure_values(f"{path}[{i}]", child)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def ciphertext_problem(value: Any) -> str | None:
    """Why ``value`` is not a ``v1:`` AES-256-GCM ciphertext, or None when it is one."""
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    parts = value.split(":")
    if len(parts) != 3 or parts[0] != "v1":
        return "expected 'v1:<nonce>:<ciphertext>' as Pulumi's passphrase and KMS providers write it"
    nonce, sealed = _b64(parts[1]), _b64(parts[2])
    if nonce is None or len(nonce) != NONCE_BYTES:
        return f"the nonce is not {NONCE_BYTES} bytes of base64"
    if sealed is None or len(sealed) < TAG_BYTES:
        return f"the ciphertext is not base64 of at least the {TAG_BYTES}-byte GCM tag"
    if set(sealed) <= _PRINTABLE:
        return "the 'ciphertext' decodes to plain text: it was encoded, not encrypted"
    return None


def _requires_provider(args: StackFileArgs) -> bool:
    try:
        spec = validate_config(dict(args.config), args.stack, args.path)
    except SpecError:
        return False  # the stack file's own errors are reported where it is loaded
    return bool(required_secrets(spec))


def secrets_decryptable(args: StackFileArgs, report_violation: ReportViolation) -> None:
    document = args.stack_file
    provider = document.get("secretsprovider")
    values = list(secure_values("", document.get("config") or {}))
    fix = (
        f"Declare `secretsprovider: awskms://alias/ml-serving-{args.stack}?region=<region>` in {args.path} and set "
        f"each secret with `pulumi config set --secret <key> <value> --stack {args.stack}`."
    )
    if provider is None and (values or _requires_provider(args)):
        report_violation(
            f"{args.path}: no secretsprovider is declared, so its secrets belong to whichever backend ran "
            f"`pulumi stack init` and no other can decrypt them. {fix}"
        )
    cloud = isinstance(provider, str) and provider.startswith(CLOUD_PROVIDERS)
    if cloud and values and not document.get("encryptedkey"):
        report_violation(
            f"{args.path}: secure values under {provider} but no encryptedkey (the provider's wrapped data key): "
            f"nothing can decrypt them. Re-set them with `pulumi config set --secret ... --stack {args.stack}`."
        )
    if provider == "passphrase" or (provider is None and document.get("encryptionsalt")):
        salt = str(document.get("encryptionsalt") or "")
        head, _, check = salt.partition(":")[2].partition(":")
        if not salt.startswith("v1:") or _b64(head) is None or ciphertext_problem(check) is not None:
            report_violation(
                f"{args.path}: encryptionsalt {salt!r} is not the passphrase provider's 'v1:<salt>:<check>'. {fix}"
            )
    for path, value in values:
        problem = ciphertext_problem(value)
        if problem is not None:
            report_violation(
                f"{path.lstrip('.')} holds a secure value no secrets provider can decrypt ({problem}); the engine "
                f"decrypts all config before the program runs, so every preview and update of {args.stack} fails. "
                f"Set it again with `pulumi config set --secret {path.lstrip('.').split('.', 1)[0]} <value> --stack {args.stack}`."
            )
