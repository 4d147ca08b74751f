"""The S3 bucket that holds MLflow artifacts (models, reference profiles, lineage files)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from runtime.spec import ArtifactsSpec

__all__ = ["ArtifactStore", "ArtifactStoreArgs", "MLFLOW_PREFIX"]

MLFLOW_PREFIX = "mlflow"
"""Key prefix under which the MLflow server writes; its IRSA role is limited to it."""


@dataclass(frozen=True, kw_only=True)
class ArtifactStoreArgs:
    artifacts: ArtifactsSpec
    """The validated ``platform.artifacts`` of the stack."""


class ArtifactStore(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    artifacts_destination: pulumi.Output[str]
    """``s3://<bucket>/mlflow``: what the MLflow server proxies artifact requests to."""

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:ArtifactStore", name, None, opts)
        spec = args.artifacts
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=spec.bucket_name,
            # A retained bucket must never be emptied by a destroy; a scratch bucket may be.
            force_destroy=not spec.retain_on_delete,
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=spec.retain_on_delete, protect=spec.retain_on_delete
            ),
        )
        bucket_id = self.bucket.id
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[
                {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": True}
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": spec.noncurrent_version_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            # S3 rejects a noncurrent-version rule on a bucket whose versioning is not yet set.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket_id,
            policy=self.bucket.arn.apply(_tls_only_policy),
            opts=child,
        )
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.artifacts_destination = self.bucket.bucket.apply(lambda b: f"s3://{b}/{MLFLOW_PREFIX}")
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "bucketArn": self.bucket_arn,
                "artifactsDestination": self.artifacts_destination,
            }
        )


def _tls_only_policy(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        sort_keys=True,
    )
