"""Rules over AWS storage: S3 buckets encrypted, versioned and private; RDS encrypted and private.

With pulumi-aws 7 a bucket's encryption, versioning and public access block are separate
resources that name the bucket, so the S3 rule is a stack rule that relates them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from policies.rule import ReportViolation, known

__all__ = [
    "BUCKET_TYPES",
    "ENCRYPTION_TYPES",
    "VERSIONING_TYPES",
    "PUBLIC_ACCESS_BLOCK_TYPE",
    "RDS_TYPES",
    "s3_buckets_secure",
    "s3_bucket_settings",
    "rds_encrypted_private",
]

BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
ENCRYPTION_TYPES = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
VERSIONING_TYPES = frozenset(
    {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
)
PUBLIC_ACCESS_BLOCK_TYPE = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
_BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
RDS_TYPES = frozenset({"aws:rds/instance:Instance", "aws:rds/cluster:Cluster"})


def _names(bucket: PolicyResource) -> set[Any]:
    """Values by which another resource may point at ``bucket``: its id, its bucket name, its URN."""
    return {v for v in (bucket.props.get("id"), bucket.props.get("bucket"), bucket.urn) if isinstance(v, str) and v}


def _targets(helper: PolicyResource, bucket: PolicyResource) -> bool:
    depends = helper.property_dependencies.get("bucket") or []
    if any(dep.urn == bucket.urn for dep in depends):
        return True
    try:
        return helper.props.get("bucket") in _names(bucket)
    except UnknownValueError:
        # During a preview a new bucket's id is unknown; the property dependency above relates them.
        return False


def _encrypted(bucket: PolicyResource, helpers: Iterable[PolicyResource]) -> bool:
    # pulumi-aws 7 computes the inline settings: unknown in a preview, so the helpers decide.
    inline = known(bucket.props, "serverSideEncryptionConfiguration")
    configs = [inline] if isinstance(inline, Mapping) else []
    configs += [h.props for h in helpers if h.resource_type in ENCRYPTION_TYPES]
    return any(_sse_set(config) for config in configs)


def _sse_set(config: Mapping[str, Any]) -> bool:
    rules = config.get("rules") or ([config["rule"]] if isinstance(config.get("rule"), Mapping) else [])
    return any(((rule or {}).get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") for rule in rules)


def _versioned(bucket: PolicyResource, helpers: Iterable[PolicyResource]) -> bool:
    inline = known(bucket.props, "versioning")
    if isinstance(inline, Mapping) and inline.get("enabled") is True:
        return True
    for helper in helpers:
        if helper.resource_type in VERSIONING_TYPES and _versioning_status(helper.props) == "Enabled":
            return True
    return False


def _versioning_status(props: Mapping[str, Any]) -> Any:
    return (props.get("versioningConfiguration") or {}).get("status")


def _unblocked(helpers: Iterable[PolicyResource]) -> list[str] | None:
    """The public-access flags left off, or None when no block exists at all."""
    blocks = [h for h in helpers if h.resource_type == PUBLIC_ACCESS_BLOCK_TYPE]
    if not blocks:
        return None
    return min((_flags_off(b.props) for b in blocks), key=len)


def _flags_off(props: Mapping[str, Any]) -> list[str]:
    return [f for f in _BLOCK_FLAGS if props.get(f) is not True]


def s3_bucket_settings(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """The inputs of a bucket's encryption, versioning and public access block, before they are applied.

    ``s3_buckets_secure`` relates each bucket to these, but as a stack rule it runs after every step
    of an ``up``; this one blocks a weak setting before its step.
    """
    why = "The artifact bucket's settings must hold before the bucket holds any model."
    if args.resource_type in ENCRYPTION_TYPES and not _sse_set(args.props):
        report_violation(
            f"{args.name!r} sets no applyServerSideEncryptionByDefault.sseAlgorithm, so objects land unencrypted. "
            f"{why} Set it to 'aws:kms' (or 'AES256')."
        )
    elif args.resource_type in VERSIONING_TYPES and _versioning_status(args.props) != "Enabled":
        report_violation(
            f"{args.name!r} sets versioningConfiguration.status {_versioning_status(args.props)!r}: an overwrite or "
            f"delete loses the model for good. {why} Set it to 'Enabled'."
        )
    elif args.resource_type == PUBLIC_ACCESS_BLOCK_TYPE and _flags_off(args.props):
        report_violation(
            f"{args.name!r} leaves {', '.join(_flags_off(args.props))} off: a policy or ACL could make models "
            f"public. {why} Set all four true."
        )


def s3_buckets_secure(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = [r for r in args.resources if r.resource_type in BUCKET_TYPES]
    for bucket in buckets:
        helpers = [r for r in args.resources if r.resource_type not in BUCKET_TYPES and _targets(r, bucket)]
        problems = []
        if not _encrypted(bucket, helpers):
            problems.append(
                "no default server-side encryption (add a BucketServerSideEncryptionConfiguration with "
                "applyServerSideEncryptionByDefault.sseAlgorithm 'aws:kms' or 'AES256')"
            )
        if not _versioned(bucket, helpers):
            problems.append(
                "versioning is not enabled (add a BucketVersioning with versioningConfiguration.status 'Enabled')"
            )
        unblocked = _unblocked(helpers)
        if unblocked is None:
            problems.append(f"no BucketPublicAccessBlock (add one with {', '.join(_BLOCK_FLAGS)} all true)")
        elif unblocked:
            problems.append(f"the BucketPublicAccessBlock leaves {', '.join(unblocked)} off (set them true)")
        for problem in problems:
            report_violation(
                f"S3 bucket {bucket.name!r}: {problem}. The bucket holds model artifacts and training "
                "lineage: they must survive an overwrite, be unreadable at rest without the key, and never "
                "be reachable from the internet.",
                bucket.urn,
            )


def rds_encrypted_private(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in RDS_TYPES:
        return
    if args.props.get("storageEncrypted") is not True:
        report_violation(
            f"RDS {args.name!r} does not set storageEncrypted: true. The MLflow database holds run "
            "metadata and lineage; unencrypted storage and snapshots leak it. Set storageEncrypted=True "
            "(encryption cannot be added later without a snapshot restore)."
        )
    if args.props.get("publiclyAccessible") is True:
        report_violation(
            f"RDS {args.name!r} sets publiclyAccessible: true. A database with a public endpoint is one "
            "leaked password away from the internet. Set publiclyAccessible=False and reach it from the "
            "cluster through its private subnets and security group."
        )
