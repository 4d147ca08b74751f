"""IAM roles for Kubernetes service accounts (IRSA): the trust policy and the role.

A pod gets AWS credentials only through its service account: the role trusts the cluster's
OIDC provider for exactly one ``system:serviceaccount:<namespace>:<name>`` subject, so no other
pod (and no node) can assume it.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

__all__ = ["trust_policy", "irsa_role", "ROLE_ARN_ANNOTATION"]

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


def trust_policy(
    oidc_provider_arn: pulumi.Input[str], oidc_provider_url: pulumi.Input[str], namespace: str, service_account: str
) -> pulumi.Output[str]:
    """The assume-role policy that lets one service account, and only it, assume the role."""

    def document(arn: str, url: str) -> str:
        issuer = url.removeprefix("https://")
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                f"{issuer}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            },
            sort_keys=True,
        )

    return pulumi.Output.all(oidc_provider_arn, oidc_provider_url).apply(lambda args: document(*args))


def irsa_role(
    name: str,
    *,
    oidc_provider_arn: pulumi.Input[str],
    oidc_provider_url: pulumi.Input[str],
    namespace: str,
    service_account: str,
    policy: pulumi.Input[str],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """A role for one service account with one inline policy (named ``<name>`` and ``<name>-policy``)."""
    role = aws.iam.Role(
        name,
        assume_role_policy=trust_policy(oidc_provider_arn, oidc_provider_url, namespace, service_account),
        description=f"IRSA role of {namespace}/{service_account}",
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=pulumi.ResourceOptions(parent=parent))
    return role
