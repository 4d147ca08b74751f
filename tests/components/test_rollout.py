"""ModelRollout: InferenceServices pinned by the lock with lineage, DestinationRules, AuthorizationPolicy."""

from __future__ import annotations

import pulumi
import pytest

from components.rollout import ModelRollout, ModelRolloutArgs
from runtime.spec import load_stack
from runtime.wiring import (
    GATEWAY_SERVICE_ACCOUNT,
    GPU_NODE_LABEL,
    GPU_TAINT,
    LINEAGE_ANNOTATION_PREFIX,
    SERVING_RUNTIME_NAME,
)
from tests.components.locks import lock_for
from tests.components.recorded import of_kind, schema_problems, settled

PROD = load_stack("prod")
LOCK = lock_for(PROD, {"champion": 8})
BUCKET = "s3://ml-serving-prod-artifacts/mlflow"


def rollout(name: str, model: str) -> ModelRollout:
    args = ModelRolloutArgs(
        model=model,
        spec=PROD.models[model],
        lock=LOCK,
        namespace="ml-serving",
        artifacts_destination=BUCKET,
        gpu_image=PROD.platform.images.runtime_gpu,
    )
    return ModelRollout(name, args)


def registered(component: ModelRollout):
    children = [
        *component.inference_services.values(),
        *component.destination_rules.values(),
        component.authorization_policy,
    ]
    return settled(component, *children)


@pulumi.runtime.test
def test_one_inference_service_per_variant_with_the_locked_lineage():
    component = rollout("t-fraud", "fraud")

    def check(urn: str) -> None:
        services = {m["metadata"]["name"]: (u, m) for u, m in of_kind(urn, "InferenceService")}
        assert sorted(services) == ["fraud-v5", "fraud-v6", "fraud-v7"], urn
        spec = PROD.models["fraud"]
        for variant in spec.variants:
            child_urn, manifest = services[f"fraud-{variant.variant_name}"]
            locked = LOCK.versions[variant.model]
            notes = manifest["metadata"]["annotations"]
            assert notes["serving.kserve.io/deploymentMode"] == "Standard", child_urn
            for key, value in {
                "model-name": "fraud",
                "model-version": str(locked.version),
                "run-id": locked.run_id,
                "git-commit": locked.git_commit,
                "dataset-digest": locked.dataset_digest,
                "artifact-uri": locked.artifact_uri,
            }.items():
                assert notes[f"{LINEAGE_ANNOTATION_PREFIX}{key}"] == value, (child_urn, key)
            predictor = manifest["spec"]["predictor"]
            model = predictor["model"]
            assert model["modelFormat"] == {"name": "mlflow"} and model["runtime"] == SERVING_RUNTIME_NAME, child_urn
            assert model["storageUri"] == f"{BUCKET}/{locked.artifact_uri.removeprefix('mlflow-artifacts:/')}", (
                child_urn
            )
            assert model["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}, child_urn
            assert {"name": "ML_SERVING_MAX_BATCH_SIZE", "value": "50"} in model["env"], child_urn
            assert {"name": "ML_SERVING_MAX_LATENCY_MS", "value": "10"} in model["env"], child_urn
            assert (predictor["minReplicas"], predictor["maxReplicas"]) == (3, 12), child_urn
            assert "tolerations" not in predictor and "nodeSelector" not in predictor, child_urn
            assert "image" not in model, child_urn  # the serving runtime's CPU image
            assert predictor["labels"]["ml-serving.io/role"] == variant.role, child_urn
        assert schema_problems(urn) == []

    return registered(component).apply(check)


@pulumi.runtime.test
def test_gpu_model_gets_gpu_limits_toleration_and_node_selector_and_alias_pinned():
    component = rollout("t-vision", "vision")

    def check(urn: str) -> None:
        services = {m["metadata"]["name"]: (u, m) for u, m in of_kind(urn, "InferenceService")}
        child_urn, champion = services["vision-champion"]
        predictor = champion["spec"]["predictor"]
        assert predictor["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1", child_urn
        key, value, effect = GPU_TAINT
        assert predictor["tolerations"] == [{"key": key, "operator": "Equal", "value": value, "effect": effect}], (
            child_urn
        )
        assert predictor["nodeSelector"] == {GPU_NODE_LABEL[0]: GPU_NODE_LABEL[1]}, child_urn
        assert predictor["model"]["image"] == PROD.platform.images.runtime_gpu, child_urn  # the CUDA torch build
        assert {"name": "ML_SERVING_HALF_PRECISION", "value": "true"} in predictor["model"]["env"], child_urn
        notes = champion["metadata"]["annotations"]
        assert notes[f"{LINEAGE_ANNOTATION_PREFIX}model-version"] == "8", child_urn
        assert notes[f"{LINEAGE_ANNOTATION_PREFIX}model-alias"] == "champion", child_urn
        assert schema_problems(urn) == []

    return registered(component).apply(check)


@pulumi.runtime.test
def test_destination_rule_per_variant_and_only_the_gateway_may_call_predictors():
    component = rollout("t-recommender", "recommender")

    def check(urn: str) -> None:
        rules = {m["spec"]["host"]: (u, m) for u, m in of_kind(urn, "DestinationRule")}
        assert sorted(rules) == [
            "recommender-als-predictor.ml-serving.svc.cluster.local",
            "recommender-popular-predictor.ml-serving.svc.cluster.local",
        ], urn
        for child_urn, rule in rules.values():
            policy = rule["spec"]["trafficPolicy"]
            assert policy["outlierDetection"]["consecutive5xxErrors"] == 5, child_urn
            assert policy["connectionPool"]["http"]["http1MaxPendingRequests"] > 0, child_urn
        [(authz_urn, authz)] = of_kind(urn, "AuthorizationPolicy")
        assert authz["spec"]["action"] == "ALLOW", authz_urn
        assert authz["spec"]["selector"] == {"matchLabels": {"ml-serving.io/model": "recommender"}}, authz_urn
        principals = [p for rule in authz["spec"]["rules"] for src in rule["from"] for p in src["source"]["principals"]]
        assert principals == [f"cluster.local/ns/ml-serving/sa/{GATEWAY_SERVICE_ACCOUNT}"], authz_urn
        assert schema_problems(urn) == []

    return registered(component).apply(check)


def test_a_variant_missing_from_the_lock_is_refused():
    partial = LOCK.model_copy(update={"versions": {k: v for k, v in LOCK.versions.items() if k != "models:/fraud/7"}})
    with pytest.raises(ValueError, match="models:/fraud/7 not in the lock"):
        ModelRollout(
            "t-partial",
            ModelRolloutArgs(model="fraud", spec=PROD.models["fraud"], lock=partial, namespace="ml-serving"),
        )


@pulumi.runtime.test
def test_variants_output_carries_each_pinned_version_and_lineage():
    component = rollout("t-fraud-outputs", "fraud")

    def check(args) -> None:
        urn, variants = args
        assert sorted(variants) == ["v5", "v6", "v7"], urn
        locked = LOCK.versions["models:/fraud/7"]
        assert variants["v7"]["role"] == "shadow", urn
        assert variants["v7"]["version"] == 7, urn
        assert (variants["v7"]["runId"], variants["v7"]["gitCommit"], variants["v7"]["datasetDigest"]) == (
            locked.run_id,
            locked.git_commit,
            locked.dataset_digest,
        ), urn

    return pulumi.Output.all(component.urn, component.variants).apply(check)
