"""Reading a stack file's project keys: the spec's two and the secrets the program reads."""

from __future__ import annotations

from runtime.spec import validate_config
from tests.runtime.spec.configs import problems_of, stack_config


def test_the_secrets_the_program_reads_are_the_only_other_project_keys():
    config = stack_config("prod")
    config.update({"ml-serving:gatewayTokens": "[secret]", "ml-serving:alertWebhookUrl": "[secret]"})
    assert validate_config(config, "prod").stack == "prod"


def test_a_key_no_part_reads_is_refused_with_the_known_ones():
    config = stack_config("prod")
    config["ml-serving:mlflowAdminPassword"] = "[secret]"
    assert problems_of(config) == [
        "stacks/Pulumi.prod.yaml: ml-serving:mlflowAdminPassword: unknown key; "
        "expected one of alertWebhookUrl, gatewayTokens, models, platform"
    ]
