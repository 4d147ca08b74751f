"""IRSA trust policy: one service account of one namespace, through the cluster's OIDC provider."""

from __future__ import annotations

import json

import pulumi

from components.irsa import trust_policy


@pulumi.runtime.test
def test_trust_policy_names_exactly_one_service_account():
    arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"

    def check(text):
        statement = json.loads(text)["Statement"][0]
        assert statement["Principal"] == {"Federated": arn}
        assert statement["Condition"]["StringEquals"] == {
            "oidc.eks.us-west-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:ml-serving:mlflow",
            "oidc.eks.us-west-2.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
        }

    return trust_policy(arn, "https://oidc.eks.us-west-2.amazonaws.com/id/ABC", "ml-serving", "mlflow").apply(check)
