"""S3 buckets encrypted, versioned and private (related resources); RDS encrypted and private."""

from __future__ import annotations

import pytest

from policies.storage import rds_encrypted_private, s3_bucket_settings, s3_buckets_secure
from tests.policies.builders import policy_resource, resource_args, run, stack_args

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
RDS = "aws:rds/instance:Instance"

ALL_BLOCKED = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}


def bucket_with(
    *, sse: bool = True, versioning: str = "Enabled", block: dict | None = ALL_BLOCKED, by_dependency: bool = False
):
    bucket = policy_resource(BUCKET, "artifacts", {"id": "artifacts-id", "bucket": "ml-artifacts"})

    def helper(resource_type: str, name: str, props: dict):
        if by_dependency:
            return policy_resource(resource_type, name, props, {"bucket": [bucket]})
        return policy_resource(resource_type, name, {"bucket": "artifacts-id", **props})

    resources = [bucket]
    if sse:
        resources.append(
            helper(
                SSE, "artifacts-sse", {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}
            )
        )
    if versioning:
        resources.append(
            helper(VERSIONING, "artifacts-versioning", {"versioningConfiguration": {"status": versioning}})
        )
    if block is not None:
        resources.append(helper(BLOCK, "artifacts-public-access", block))
    return resources


@pytest.mark.parametrize("by_dependency", [False, True], ids=["by-id", "by-property-dependency"])
def test_bucket_with_encryption_versioning_and_block_passes(by_dependency):
    reports = run(s3_buckets_secure, stack_args(*bucket_with(by_dependency=by_dependency)))
    assert not reports, reports.text()


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"sse": False}, "no default server-side encryption"),
        ({"versioning": "Suspended"}, "versioning is not enabled"),
        ({"versioning": ""}, "versioning is not enabled"),
        ({"block": None}, "no BucketPublicAccessBlock"),
        ({"block": {**ALL_BLOCKED, "restrictPublicBuckets": False}}, "leaves restrictPublicBuckets off"),
    ],
)
def test_bucket_missing_a_guard_is_reported_on_the_bucket(change, expected):
    resources = bucket_with(**change)
    reports = run(s3_buckets_secure, stack_args(*resources))
    assert len(reports) == 1, reports.text()
    assert expected in reports.messages[0]
    assert reports.urns == [resources[0].urn]


def test_guards_of_another_bucket_do_not_count():
    other = policy_resource(BUCKET, "logs", {"id": "logs-id", "bucket": "ml-logs"})
    reports = run(s3_buckets_secure, stack_args(other, *bucket_with()))
    assert len(reports) == 3, reports.text()
    assert set(reports.urns) == {other.urn}


def test_inline_encryption_and_versioning_count():
    bucket = policy_resource(
        "aws:s3/bucketV2:BucketV2",
        "legacy",
        {
            "id": "legacy-id",
            "serverSideEncryptionConfiguration": {
                "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
            },
            "versioning": {"enabled": True},
        },
    )
    block = policy_resource(BLOCK, "legacy-block", {"bucket": "legacy-id", **ALL_BLOCKED})
    assert not run(s3_buckets_secure, stack_args(bucket, block))


def test_encrypted_private_rds_passes():
    args = resource_args(
        RDS, "mlflow-db", {"storageEncrypted": True, "publiclyAccessible": False, "engine": "postgres"}
    )
    assert not run(rds_encrypted_private, args)


@pytest.mark.parametrize(
    "props, expected",
    [
        ({"publiclyAccessible": False}, "storageEncrypted"),
        ({"storageEncrypted": False}, "storageEncrypted"),
        ({"storageEncrypted": True, "publiclyAccessible": True}, "publiclyAccessible: true"),
    ],
)
def test_unencrypted_or_public_rds_is_reported(props, expected):
    reports = run(rds_encrypted_private, resource_args(RDS, "mlflow-db", props))
    assert len(reports) == 1
    assert expected in reports.messages[0] and "'mlflow-db'" in reports.messages[0]


def test_rds_rule_ignores_other_types():
    assert not run(rds_encrypted_private, resource_args(BUCKET, "artifacts", {"publiclyAccessible": True}))


@pytest.mark.parametrize(
    "resource_type, props, expected",
    [
        (SSE, {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}, None),
        (SSE, {"bucket": "b", "rules": [{"bucketKeyEnabled": True}]}, "sseAlgorithm"),
        (VERSIONING, {"bucket": "b", "versioningConfiguration": {"status": "Enabled"}}, None),
        (VERSIONING, {"bucket": "b", "versioningConfiguration": {"status": "Suspended"}}, "'Suspended'"),
        (
            BLOCK,
            dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True),
            None,
        ),
        (
            BLOCK,
            {
                "blockPublicAcls": True,
                "blockPublicPolicy": False,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
            "blockPublicPolicy",
        ),
    ],
)
def test_bucket_settings_are_judged_on_their_own_inputs(resource_type, props, expected):
    # A resource rule: it blocks the step of an `up`, where the stack rule only reports afterwards.
    reports = run(s3_bucket_settings, resource_args(resource_type, "artifacts-x", props))
    if expected is None:
        assert not reports, reports.text()
    else:
        assert len(reports) == 1 and expected in reports.messages[0]
