"""PredictorIdentity: the predictors' service account, read-only on the artifacts through IRSA on EKS."""

from __future__ import annotations

import dataclasses
import json

import pulumi
import pytest

from components.artifacts import ArtifactStore, ArtifactStoreArgs
from components.cluster import Cluster, ClusterArgs
from components.gateway import GatewayArgs
from components.mesh import MeshArgs
from components.mlflow_server import MlflowServerArgs
from components.monitor import DriftMonitorArgs
from components.monitoring import MonitoringStackArgs
from components.predictor_identity import (
    PREDICTOR_SERVICE_ACCOUNT,
    PredictorIdentity,
    PredictorIdentityArgs,
    read_only_policy,
)
from components.rollout import ModelRolloutArgs
from components.serving import ServingArgs
from runtime.spec import load_stack
from runtime.wiring import PART_OF

PROD = load_stack("prod").platform
LOCAL = load_stack("local").platform


def _cluster(name: str, platform) -> Cluster:
    args = ClusterArgs(
        cluster=platform.cluster, versions=platform.versions, namespace=platform.namespace, cluster_name=name
    )
    return Cluster(name, args)


@pulumi.runtime.test
def test_on_eks_the_account_assumes_a_role_that_reads_the_mlflow_prefix_only():
    store = ArtifactStore("pi-store", ArtifactStoreArgs(artifacts=PROD.artifacts))
    identity = PredictorIdentity("pi-eks", PredictorIdentityArgs(cluster=_cluster("pi-eks", PROD), artifacts=store))
    assert identity.name == PREDICTOR_SERVICE_ACCOUNT

    def check(args):
        urn, metadata = args
        assert metadata["name"] == PREDICTOR_SERVICE_ACCOUNT and metadata["labels"] == PART_OF, urn
        assert metadata["annotations"]["eks.amazonaws.com/role-arn"].endswith("role/pi-eks-role"), urn

    return pulumi.Output.all(identity.urn, identity.service_account.metadata).apply(check)


@pulumi.runtime.test
def test_without_an_artifact_store_the_account_has_no_role():
    identity = PredictorIdentity("pi-local", PredictorIdentityArgs(cluster=_cluster("pi-local", LOCAL), artifacts=None))

    def check(args):
        urn, metadata = args
        assert metadata.get("annotations", {}) == {}, urn

    return pulumi.Output.all(identity.urn, identity.service_account.metadata).apply(check)


def test_the_policy_reads_objects_below_the_mlflow_prefix_and_writes_nothing():
    statements = json.loads(read_only_policy("arn:aws:s3:::bucket"))["Statement"]
    assert {s["Action"] for s in statements} == {"s3:GetObject", "s3:ListBucket"}
    assert statements[0]["Resource"] == "arn:aws:s3:::bucket/mlflow/*"


ARGS = [
    ArtifactStoreArgs,
    ClusterArgs,
    DriftMonitorArgs,
    GatewayArgs,
    MeshArgs,
    MlflowServerArgs,
    ModelRolloutArgs,
    MonitoringStackArgs,
    PredictorIdentityArgs,
    ServingArgs,
]


@pytest.mark.parametrize("args", ARGS, ids=[a.__name__ for a in ARGS])
def test_component_args_take_keywords_only(args):
    assert all(field.kw_only for field in dataclasses.fields(args)), args.__name__
    with pytest.raises(TypeError, match="positional"):
        args(*[None] * len(dataclasses.fields(args)))
