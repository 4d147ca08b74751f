"""EKS access entries: which IAM roles reach the cluster's Kubernetes API.

The cluster uses ``authenticationMode: API``: only principals with an access entry get in, so the
workflows' deploy and preview roles (``platform.cluster.access``) each get one, cluster-wide.
"""

from __future__ import annotations

import pulumi_eks as eks

from runtime.spec import ClusterAccessSpec

__all__ = ["ACCESS_POLICIES", "access_entries"]

ACCESS_POLICIES = {
    "admin": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
    "edit": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
    "view": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
}


def access_entries(access: tuple[ClusterAccessSpec, ...]) -> dict[str, eks.AccessEntryArgs]:
    """pulumi-eks ``accessEntries``, one per role, keyed by the role's name."""
    return {
        entry.principal_arn.rsplit("/", 1)[-1]: eks.AccessEntryArgs(
            principal_arn=entry.principal_arn,
            access_policies={
                entry.policy: eks.AccessPolicyAssociationArgs(
                    policy_arn=ACCESS_POLICIES[entry.policy], access_scope={"type": "cluster"}
                )
            },
        )
        for entry in access
    }
