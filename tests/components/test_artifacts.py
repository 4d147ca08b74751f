"""ArtifactStore: a versioned, encrypted, private, TLS-only bucket."""

from __future__ import annotations

import json

import pulumi

from components.artifacts import ArtifactStore, ArtifactStoreArgs
from runtime.spec import load_stack
from tests.components.renders import stack_renders

PROD = load_stack("prod").platform


@pulumi.runtime.test
def test_bucket_is_kept_in_prod_and_exposes_the_mlflow_destination():
    store = ArtifactStore("store-prod", ArtifactStoreArgs(artifacts=PROD.artifacts))

    def check(args):
        urn, force_destroy, destination, name = args
        assert force_destroy is False, f"{urn}: a retained bucket must not be force-destroyed"
        assert destination == f"s3://{name}/mlflow", urn

    return pulumi.Output.all(
        store.bucket.urn, store.bucket.force_destroy, store.artifacts_destination, store.bucket_name
    ).apply(check)


def _by_type(resources: list[dict], suffix: str) -> dict:
    return next(r for r in resources if r["type"].endswith(suffix))


def test_prod_bucket_is_encrypted_versioned_private_and_tls_only():
    resources = stack_renders()["prod"]["resources"]
    block = _by_type(resources, ":BucketPublicAccessBlock")
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block["inputs"][flag] is True, f"{block['urn']}: {flag}"
    versioning = _by_type(resources, ":BucketVersioning")
    assert versioning["inputs"]["versioningConfiguration"]["status"] == "Enabled", versioning["urn"]
    encryption = _by_type(resources, ":BucketServerSideEncryptionConfiguration")
    rule = encryption["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] == "aws:kms", encryption["urn"]
    lifecycle = _by_type(resources, ":BucketLifecycleConfiguration")
    days = lifecycle["inputs"]["rules"][0]["noncurrentVersionExpiration"]["noncurrentDays"]
    assert days == PROD.artifacts.noncurrent_version_days, lifecycle["urn"]
    assert versioning["urn"] in lifecycle["dependencies"], lifecycle["urn"]
    policy = json.loads(_by_type(resources, ":BucketPolicy")["inputs"]["policy"])
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, policy
