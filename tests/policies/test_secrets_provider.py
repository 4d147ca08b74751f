"""Stack files hold only values a secrets provider can decrypt; a missing secret names its command."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from policies.rule import StackFileArgs
from policies.secrets_provider import ciphertext_problem, secrets_decryptable
from runtime.spec import read_stack_config, stack_file
from tests.policies.builders import run

ROOT = Path(__file__).resolve().parents[2]
CLOUD_STACKS = ("dev", "staging", "prod")


def _seal(key: bytes, plaintext: str) -> str:
    """What Pulumi's symmetric crypter writes (crypt.go): v1:<nonce>:<AES-256-GCM ciphertext + tag>."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def _open(key: bytes, value: str) -> str:
    _, nonce, sealed = value.split(":")
    return AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None).decode()


def file_args(stack: str, document: dict) -> StackFileArgs:
    config: dict[str, Any] = {}
    for key, value in (document.get("config") or {}).items():
        config[key] = "[secret]" if isinstance(value, dict) and set(value) == {"secure"} else value
    return StackFileArgs(stack, f"stacks/Pulumi.{stack}.yaml", config, frozenset(), {}, document)


def shipped(stack: str) -> dict:
    return yaml.safe_load(stack_file(stack).read_text())


@pytest.mark.parametrize("stack", ["local", *CLOUD_STACKS])
def test_no_shipped_stack_file_holds_a_value_no_provider_can_decrypt(stack):
    reports = run(secrets_decryptable, file_args(stack, shipped(stack)))
    assert not reports, reports.text()


@pytest.mark.parametrize("stack", CLOUD_STACKS)
def test_each_cloud_stack_declares_its_own_kms_provider(stack):
    provider = shipped(stack)["secretsprovider"]
    assert provider.startswith(f"awskms://alias/ml-serving-{stack}?"), provider


def test_base64_of_plain_text_is_reported_with_the_command_to_fix_it():
    # The shape the stack files used to hold: the base64 of a readable placeholder.
    document = shipped("prod")
    fake = base64.b64encode(b"\x00\x00\x01\x00secret-prod-gateway-tokens-ciphertext").decode()
    document["config"]["ml-serving:gatewayTokens"] = {"secure": fake}
    reports = run(secrets_decryptable, file_args("prod", document))
    assert len(reports) == 2, reports.text()  # no encryptedkey under KMS, and the value itself
    assert "encryptedkey" in reports.messages[0]
    assert reports.messages[1].startswith(
        "ml-serving:gatewayTokens holds a secure value no secrets provider can decrypt"
    )
    assert "`pulumi config set --secret ml-serving:gatewayTokens <value> --stack prod`" in reports.messages[1]


def test_encoded_plaintext_in_the_v1_format_is_still_reported():
    nonce = base64.b64encode(os.urandom(12)).decode()
    assert "plain text" in ciphertext_problem(f"v1:{nonce}:{base64.b64encode(b'hunter2-hunter2-hunter2').decode()}")


def test_passphrase_ciphertexts_in_pulumis_format_pass_and_decrypt():
    # The passphrase provider: key = PBKDF2-SHA256(passphrase, salt, 1,000,000 rounds), 32 bytes;
    # encryptionsalt = v1:<salt>:<"pulumi" sealed with that key> (pkg/secrets/passphrase/manager.go).
    salt = os.urandom(8)
    key = hashlib.pbkdf2_hmac("sha256", b"correct horse", salt, 1_000_000, 32)
    document = shipped("prod")
    del document["secretsprovider"]
    document["secretsprovider"] = "passphrase"
    document["encryptionsalt"] = f"v1:{base64.b64encode(salt).decode()}:{_seal(key, 'pulumi')}"
    document["config"]["ml-serving:gatewayTokens"] = {"secure": _seal(key, "tok-a,tok-b")}
    assert not run(secrets_decryptable, file_args("prod", document))
    assert _open(key, document["config"]["ml-serving:gatewayTokens"]["secure"]) == "tok-a,tok-b"
    document["encryptionsalt"] = "v1:not-base64!:x"
    assert "encryptionsalt" in run(secrets_decryptable, file_args("prod", document)).text()


def test_kms_ciphertexts_need_the_wrapped_data_key():
    document = shipped("staging")
    key = os.urandom(32)
    document["config"]["ml-serving:gatewayTokens"] = {"secure": _seal(key, "tok")}
    assert "encryptedkey" in run(secrets_decryptable, file_args("staging", document)).text()
    document["encryptedkey"] = base64.b64encode(os.urandom(184)).decode()
    assert not run(secrets_decryptable, file_args("staging", document))


def test_a_stack_that_needs_secrets_must_declare_a_provider():
    document = shipped("dev")
    del document["secretsprovider"]
    reports = run(secrets_decryptable, file_args("dev", document))
    assert len(reports) == 1 and "no secretsprovider is declared" in reports.messages[0]
    # The local stack turns gateway auth off and needs no secret, so it declares none.
    assert "secretsprovider" not in shipped("local")


def test_secret_keys_still_read_as_placeholders():
    config, secret_keys = read_stack_config(stack_file("prod"))
    assert not secret_keys and "ml-serving:gatewayTokens" not in config
