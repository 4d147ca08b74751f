"""The identity predictors fetch models with: a ServiceAccount, read-only on the model artifacts.

KServe's storage initializer downloads each InferenceService's ``storageUri`` (``s3://<bucket>/
mlflow/...``) under the predictor's service account. On EKS the account assumes, through IRSA,
a role that may only read objects below the MLflow prefix; the predictors never write there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.artifacts import MLFLOW_PREFIX, ArtifactStore
from components.cluster import Cluster
from components.irsa import ROLE_ARN_ANNOTATION, irsa_role
from runtime.wiring import PART_OF

__all__ = ["PredictorIdentity", "PredictorIdentityArgs", "PREDICTOR_SERVICE_ACCOUNT", "read_only_policy"]

PREDICTOR_SERVICE_ACCOUNT = "ml-serving-predictor"


def read_only_policy(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket_arn}/{MLFLOW_PREFIX}/*"},
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": [MLFLOW_PREFIX, f"{MLFLOW_PREFIX}/*"]}},
                },
            ],
        },
        sort_keys=True,
    )


@dataclass(frozen=True, kw_only=True)
class PredictorIdentityArgs:
    cluster: Cluster
    """The cluster the predictors run in (its namespace, provider and, on EKS, its OIDC provider)."""
    artifacts: ArtifactStore | None
    """The S3 artifact store the predictors read; None on a cluster without one (no IRSA role)."""


class PredictorIdentity(pulumi.ComponentResource):
    service_account: k8s.core.v1.ServiceAccount
    name: str
    """The service account name every InferenceService's predictor runs as."""

    def __init__(self, name: str, args: PredictorIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:PredictorIdentity", name, None, opts)
        cluster, artifacts = args.cluster, args.artifacts
        annotations: dict[str, pulumi.Input[str]] = {}
        if cluster.eks_outputs is not None and artifacts is not None:
            role = irsa_role(
                f"{name}-role",
                oidc_provider_arn=cluster.eks_outputs.oidc_provider_arn,
                oidc_provider_url=cluster.eks_outputs.oidc_provider_url,
                namespace=cluster.namespace_name,
                service_account=PREDICTOR_SERVICE_ACCOUNT,
                policy=artifacts.bucket_arn.apply(read_only_policy),
                parent=self,
            )
            annotations[ROLE_ARN_ANNOTATION] = role.arn
        self.name = PREDICTOR_SERVICE_ACCOUNT
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": PREDICTOR_SERVICE_ACCOUNT,
                "namespace": cluster.namespace.metadata["name"],
                "labels": PART_OF,
                "annotations": annotations,
            },
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider),
        )
        self.register_outputs({"serviceAccount": PREDICTOR_SERVICE_ACCOUNT})
