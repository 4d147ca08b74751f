"""Rollout rules over the spec: canary limit, promotion path, fallbacks, GPU batching."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from policies.catalog import rule_named
from policies.pack import to_policy
from policies.rollout import (
    GATEWAY_COMPONENT,
    canary_weight_max,
    fallback_required,
    gpu_batching,
    promotion_path,
    rollout_spec_found,
    spec_from_config_map,
)
from policies.rule import SpecArgs
from runtime.spec import read_stack_config, stack_file, validate_config
from runtime.wiring import GatewayConfig
from tests.policies.builders import policy_resource, resource_args, run, stack_args

PROD_CONFIG, _ = read_stack_config(stack_file("prod"))


def prod_models(edit=None, stack: str = "prod"):
    config = copy.deepcopy(PROD_CONFIG)
    if edit:
        edit(config["ml-serving:models"])
    return validate_config(config, stack).models


def spec_args(models, stack: str = "prod", **config) -> SpecArgs:
    return SpecArgs(stack=stack, models=models, source=f"stacks/Pulumi.{stack}.yaml", config=config)


def canary_at(weight: float):
    def edit(models):
        models["fraud"]["variants"][0]["weight"] = 100 - weight
        models["fraud"]["variants"][1]["weight"] = weight

    return edit


def test_shipped_prod_canaries_are_within_the_limit():
    assert not run(canary_weight_max, spec_args(prod_models()))


def test_canary_above_the_limit_is_reported():
    reports = run(canary_weight_max, spec_args(prod_models(canary_at(60))))
    assert len(reports) == 1
    assert (
        "ml-serving:models.fraud" in reports.messages[0]
        and "60%" in reports.messages[0]
        and "50%" in reports.messages[0]
    )


def test_limit_is_configurable_and_prod_only():
    models = prod_models(canary_at(30))
    reports = run(canary_weight_max, spec_args(models, maxCanaryWeight=40))
    assert len(reports) == 1 and "ml-serving:models.recommender" in reports.messages[0]
    assert len(run(canary_weight_max, spec_args(models, maxCanaryWeight=20))) == 2
    assert not run(canary_weight_max, spec_args(models, stack="dev", maxCanaryWeight=20))
    assert (
        len(run(canary_weight_max, spec_args(models, stack="dev", maxCanaryWeight=20, productionStacks=["dev"]))) == 2
    )


def test_fallback_required_in_prod_only():
    models = prod_models(lambda m: m["recommender"].pop("fallback"))
    assert not run(fallback_required, spec_args(prod_models()))
    reports = run(fallback_required, spec_args(models))
    assert len(reports) == 1 and "ml-serving:models.recommender" in reports.messages[0]
    assert not run(fallback_required, spec_args(models, stack="staging"))


def test_gpu_model_needs_batching():
    assert not run(gpu_batching, spec_args(prod_models()))
    reports = run(gpu_batching, spec_args(prod_models(lambda m: m["vision"].pop("batching")), stack="dev"))
    assert len(reports) == 1 and "ml-serving:models.vision" in reports.messages[0]


def write_staging(tmp_path: Path, served: list[str]) -> Path:
    path = tmp_path / "Pulumi.staging.yaml"
    config, _ = read_stack_config(stack_file("staging"))
    variants = [{"model": served[0], "role": "primary", "weight": 100}] + [
        {"model": uri, "role": "shadow", "mirrorPercent": 10} for uri in served[1:]
    ]
    config["ml-serving:models"] = {"fraud": {"variants": variants, "latencyBudgetMs": 50}}
    config = {k: v for k, v in config.items() if k != "ml-serving:gatewayTokens" and k != "ml-serving:alertWebhookUrl"}
    path.write_text(json.dumps({"config": config}))
    return path


def test_prod_canary_served_in_staging_passes(tmp_path):
    staging = write_staging(tmp_path, ["models:/fraud/5", "models:/fraud/6", "models:/recommender-als/3"])
    assert not run(promotion_path, spec_args(prod_models(), stagingStackFile=str(staging)))


def test_prod_canary_unknown_to_staging_is_reported(tmp_path):
    staging = write_staging(tmp_path, ["models:/fraud/5", "models:/fraud/6"])
    reports = run(promotion_path, spec_args(prod_models(), stagingStackFile=str(staging)))
    assert len(reports) == 1
    assert "models:/recommender-als/3" in reports.messages[0] and "staging" in reports.messages[0]


def test_promotion_path_against_the_shipped_staging_stack():
    assert not run(promotion_path, spec_args(prod_models()))
    assert not run(promotion_path, spec_args(prod_models(), stack="dev", stagingStackFile="/nonexistent"))


def test_unloadable_staging_stack_is_reported(tmp_path):
    reports = run(promotion_path, spec_args(prod_models(), stagingStackFile=str(tmp_path / "Pulumi.staging.yaml")))
    assert len(reports) == 1 and "no such stack file" in reports.messages[0]


def gateway_config_map(models, data=None) -> object:
    config = GatewayConfig(stack="prod", models=models, endpoints={})
    return resource_args(
        "kubernetes:core/v1:ConfigMap",
        "gateway-config",
        {"data": data or {"gateway.json": config.model_dump_json(by_alias=True)}},
    )


def test_spec_is_read_from_the_gateway_config_maps_inputs():
    config_map = gateway_config_map(prod_models())
    spec = spec_from_config_map(config_map, {})
    assert spec is not None and spec.stack == "prod" and set(spec.models) == {"fraud", "recommender", "vision"}
    assert spec.urn == config_map.urn
    assert spec_from_config_map(gateway_config_map(prod_models(), {"a": "b"}), {}) is None


@pytest.mark.parametrize(
    "rule, edit",
    [
        ("canary-weight-max", canary_at(60)),
        ("fallback-required", lambda m: m["fraud"].pop("fallback")),
        ("gpu-batching", lambda m: m["vision"].pop("batching")),
    ],
)
def test_pack_runs_spec_rules_on_the_gateway_config_map(rule, edit):
    policy = to_policy(rule_named(rule))
    assert not run(policy.validate, gateway_config_map(prod_models()))
    violating = gateway_config_map(prod_models(edit))
    reports = run(policy.validate, violating)
    assert len(reports) == 1 and reports.urns == [violating.urn]


def test_pack_spec_rule_on_another_resource_reports_nothing():
    policy = to_policy(rule_named("fallback-required"))
    assert not run(policy.validate, resource_args("kubernetes:core/v1:Namespace", "ns", {}))


def test_staging_served_spec_from_its_stack_output_decides_the_promotion_path(tmp_path):
    # What staging runs (its specJson output), not the staging file a PR may change with prod.
    staging = validate_config(read_stack_config(stack_file("staging"))[0], "staging")
    deployed = staging.model_copy(update={"models": {k: v for k, v in staging.models.items() if k != "recommender"}})
    output = tmp_path / "staging-spec.json"
    output.write_text(deployed.model_dump_json(by_alias=True))
    reports = run(promotion_path, spec_args(prod_models(), stagingSpecFile=str(output)))
    assert len(reports) == 1 and "models:/recommender-als/3" in reports.messages[0]
    assert "the spec staging serves (staging-spec.json" in reports.messages[0]
    output.write_text(staging.model_dump_json(by_alias=True))
    assert not run(promotion_path, spec_args(prod_models(), stagingSpecFile=str(output)))
    output.write_text("{}")
    assert (
        "not the staging stack's specJson output"
        in run(promotion_path, spec_args(prod_models(), stagingSpecFile=str(output))).text()
    )


def test_rollout_spec_found_needs_the_gateway_config_map_on_a_cloud_stack():
    gateway = policy_resource(GATEWAY_COMPONENT, "gateway", {})
    bucket = policy_resource("aws:s3/bucket:Bucket", "artifacts-bucket", {})
    config_map = policy_resource("kubernetes:core/v1:ConfigMap", "gateway-config", {})  # a first preview: no outputs
    config_map.parent = gateway
    assert not run(rollout_spec_found, stack_args(bucket, gateway, config_map))
    assert "no gateway ConfigMap" in run(rollout_spec_found, stack_args(bucket, gateway)).text()
    assert not run(rollout_spec_found, stack_args(gateway))  # not a cloud stack
    broken = policy_resource("kubernetes:core/v1:ConfigMap", "gateway-config", {"data": {"gateway.json": "{}"}})
    broken.parent = gateway
    assert "does not hold a valid gateway config" in run(rollout_spec_found, stack_args(bucket, gateway, broken)).text()
