"""Every rule of the pack, registered explicitly, in the order they are reported."""

from __future__ import annotations

from pulumi_policy import PolicyConfigSchema

from policies import budget, charts, mesh, rollout, secrets_provider, stack_secrets, storage, workloads
from policies.rule import PRODUCTION_STACKS, Rule

__all__ = ["RULES", "rule_named"]

_PRODUCTION = {"type": "array", "items": {"type": "string"}, "default": list(PRODUCTION_STACKS)}


def _schema(**properties: dict) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={"productionStacks": _PRODUCTION, **properties})


RULES: tuple[Rule, ...] = (
    Rule(
        "s3-bucket-secure",
        "S3 buckets are encrypted, versioned and block public access.",
        "stack",
        storage.s3_buckets_secure,
    ),
    Rule(
        "s3-bucket-settings",
        "An S3 bucket's encryption, versioning and public access block are set as they must be.",
        "resource",
        storage.s3_bucket_settings,
    ),
    Rule(
        "rds-encrypted-private",
        "RDS databases are encrypted at rest and not publicly accessible.",
        "resource",
        storage.rds_encrypted_private,
    ),
    Rule(
        "mlflow-not-public",
        "MLflow is reachable only inside the cluster (ClusterIP; no LoadBalancer, NodePort, Ingress or gateway route).",
        "resource",
        mesh.mlflow_not_public,
    ),
    Rule(
        "istio-mtls-strict",
        "No PeerAuthentication weakens mutual TLS to PERMISSIVE or DISABLE.",
        "resource",
        mesh.istio_mtls_strict,
    ),
    Rule(
        "istio-mtls-declared",
        "A stack that installs Istio declares STRICT mutual TLS for a whole namespace or the mesh.",
        "stack",
        mesh.istio_mtls_declared,
    ),
    Rule(
        "image-pinned",
        "Container images are pinned by version tag or digest, never 'latest'.",
        "resource",
        workloads.images_pinned,
    ),
    Rule(
        "container-resources",
        "Containers declare CPU and memory requests and limits.",
        "resource",
        workloads.containers_have_resources,
    ),
    Rule(
        "chart-pinned",
        "Helm releases pin one chart version, and every image their values set.",
        "resource",
        charts.chart_pinned,
    ),
    Rule(
        "model-lineage",
        "Every served model version carries lineage: run id, git commit and dataset digest.",
        "resource",
        workloads.model_lineage,
    ),
    Rule(
        "rollout-spec-found",
        "A cloud stack carries its rollout spec in the gateway's ConfigMap, where the rollout rules read it.",
        "stack",
        rollout.rollout_spec_found,
    ),
    Rule(
        "canary-weight-max",
        "In production, canaries take at most a configured share of live traffic.",
        "spec",
        rollout.canary_weight_max,
        config_schema=_schema(
            maxCanaryWeight={
                "type": "number",
                "minimum": 0,
                "maximum": 100,
                "default": rollout.DEFAULT_MAX_CANARY_WEIGHT,
            }
        ),
        defaults={"maxCanaryWeight": rollout.DEFAULT_MAX_CANARY_WEIGHT, "productionStacks": list(PRODUCTION_STACKS)},
    ),
    Rule(
        "promotion-path",
        "A version takes canary traffic in production only once the staging stack serves it.",
        "spec",
        rollout.promotion_path,
        config_schema=_schema(stagingStackFile={"type": "string"}, stagingSpecFile={"type": "string"}),
        defaults={"productionStacks": list(PRODUCTION_STACKS)},
    ),
    Rule(
        "fallback-required",
        "In production, every model declares a fallback answer.",
        "spec",
        rollout.fallback_required,
        config_schema=_schema(),
        defaults={"productionStacks": list(PRODUCTION_STACKS)},
    ),
    Rule(
        "gpu-batching",
        "Models that use GPUs declare batching.",
        "spec",
        rollout.gpu_batching,
    ),
    Rule(
        "cost-budget",
        "A stack's maximum monthly cost estimate stays within the budget its stack file declares.",
        "stack",
        budget.cost_budget,
        config_schema=PolicyConfigSchema(
            properties={
                "stackFile": {"type": "string"},
                "prices": {"type": "string", "enum": ["snapshot", "live", "auto"]},
            }
        ),
        defaults={"prices": "snapshot"},
    ),
    Rule(
        "no-plaintext-secrets",
        "Stack config keys that name a password, token, secret or access key hold Pulumi secrets.",
        "file",
        stack_secrets.no_plaintext_secrets,
    ),
    Rule(
        "secrets-decryptable",
        "Every secure: value in a stack file is a ciphertext of the secrets provider the stack declares.",
        "file",
        secrets_provider.secrets_decryptable,
    ),
)


def rule_named(name: str) -> Rule:
    for rule in RULES:
        if rule.name == name:
            return rule
    raise KeyError(f"no rule named {name!r}; rules: {', '.join(r.name for r in RULES)}")
