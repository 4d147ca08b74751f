"""No plaintext secret in a stack file's config."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

import pytest

from policies.rule import StackFileArgs
from policies.stack_secrets import names_secret, no_plaintext_secrets
from runtime.spec import read_stack_config, stack_file
from tests.policies.builders import run


def file_args(config: dict, secret_keys: AbstractSet[str] = frozenset()) -> StackFileArgs:
    return StackFileArgs(
        stack="prod", path="stacks/Pulumi.prod.yaml", config=config, secret_keys=frozenset(secret_keys)
    )


@pytest.mark.parametrize(
    "key, secret",
    [
        ("aws:secretKey", True),
        ("aws:accessKey", True),
        ("ml-serving:gatewayTokens", True),
        ("db:adminPassword", True),
        ("db:api_key", True),
        ("ml-serving:alertWebhookUrl", True),
        ("aws:region", False),
        ("ml-serving:models", False),
        ("routing:stickyKey", False),
    ],
)
def test_names_secret(key, secret):
    assert names_secret(key) is secret


@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod"])
def test_shipped_stacks_hold_no_plaintext_secret(stack):
    config, secret_keys = read_stack_config(stack_file(stack))
    assert not run(no_plaintext_secrets, file_args(config, secret_keys))


def test_plaintext_top_level_secret_is_reported():
    reports = run(no_plaintext_secrets, file_args({"aws:region": "us-west-2", "aws:secretKey": "wJalrXUtnFEMI"}))
    assert len(reports) == 1
    assert reports.messages[0].startswith("aws:secretKey ") and "--secret" in reports.messages[0]
    assert "wJalrXUtnFEMI" not in reports.messages[0]


def test_secure_value_passes():
    config = {"aws:secretKey": "[secret]"}
    assert not run(no_plaintext_secrets, file_args(config, {"aws:secretKey"}))


def test_nested_plaintext_secret_is_reported_and_nested_secure_passes():
    config = {"aws:assumeRole": {"roleArn": "arn:aws:iam::1:role/x", "sessionToken": "abc"}}
    reports = run(no_plaintext_secrets, file_args(config))
    assert [m.split(" ")[0] for m in reports.messages] == ["aws:assumeRole.sessionToken"]
    config = {"aws:assumeRole": {"roleArn": "arn:aws:iam::1:role/x", "sessionToken": {"secure": "AAAB"}}}
    assert not run(no_plaintext_secrets, file_args(config, {"aws:assumeRole"}))


def test_flags_are_not_secrets():
    assert not run(no_plaintext_secrets, file_args({"app:useToken": True, "app:tokenTtlSeconds": None}))
