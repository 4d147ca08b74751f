"""ModelRollout: one model of the spec served as KServe InferenceServices behind Istio policy.

Per variant (primary, canary, shadow) one InferenceService in Standard mode (plain Deployment) on the project's
serving runtime, with the version pinned by the stack's model lock (never the registry) and its
lineage as annotations, plus a DestinationRule (outlier detection, connection limits). Per model
one AuthorizationPolicy: only the gateway's service account may call the predictors. Traffic
weights and mirroring are the gateway's job, not the mesh's (see DESIGN.md, "Request path").
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.scraping import scrape_annotations
from runtime.registry.lock import LockedVersion, ModelLock, storage_location
from runtime.spec import ModelSpec, VariantSpec
from runtime.wiring import (
    GATEWAY_SERVICE_ACCOUNT,
    GPU_NODE_LABEL,
    GPU_TAINT,
    LINEAGE_ANNOTATION_PREFIX,
    MODEL_SERVER_PORT,
    PART_OF,
    SERVING_RUNTIME_NAME,
    inference_service_name,
)

__all__ = [
    "ModelRollout",
    "ModelRolloutArgs",
    "predictor_service",
    "predictor_host",
    "predictor_url",
    "lineage_annotations",
    "CPU_TARGET_PERCENT",
]

CPU_TARGET_PERCENT = 70
"""HPA CPU utilisation target of a predictor."""


def predictor_service(inference_service: str) -> str:
    """The Service KServe's Standard (RawDeployment) mode creates for an InferenceService's predictor."""
    return f"{inference_service}-predictor"


def predictor_host(inference_service: str, namespace: str) -> str:
    return f"{predictor_service(inference_service)}.{namespace}.svc.cluster.local"


def predictor_url(inference_service: str, namespace: str) -> str:
    return f"http://{predictor_host(inference_service, namespace)}"


def lineage_annotations(locked: LockedVersion) -> dict[str, str]:
    p = LINEAGE_ANNOTATION_PREFIX
    annotations = {
        f"{p}model-name": locked.name,
        f"{p}model-version": str(locked.version),
        f"{p}model-uri": locked.uri,
        f"{p}run-id": locked.run_id,
        f"{p}git-commit": locked.git_commit,
        f"{p}dataset-digest": locked.dataset_digest,
        f"{p}dataset-source": locked.dataset_source,
        f"{p}artifact-uri": locked.artifact_uri,
    }
    if locked.alias:
        annotations[f"{p}model-alias"] = locked.alias
    return annotations


def _storage_uri(locked: LockedVersion, destination: pulumi.Input[str] | None) -> pulumi.Input[str]:
    if destination is None or not locked.storage_uri.startswith("mlflow-artifacts:"):
        return locked.storage_uri
    return pulumi.Output.from_input(destination).apply(lambda root: storage_location(locked.storage_uri, root))


@dataclass(frozen=True, kw_only=True)
class ModelRolloutArgs:
    model: str
    """The model's key in the spec (``fraud``)."""
    spec: ModelSpec
    lock: ModelLock
    """The stack's model lock, already checked against the stack file."""
    namespace: pulumi.Input[str]
    provider: pulumi.ProviderResource | None = None
    """Kubernetes provider of the cluster (None: the default provider)."""
    artifacts_destination: pulumi.Input[str] | None = None
    """The MLflow server's artifacts destination (``s3://<bucket>/mlflow``): ``mlflow-artifacts:/``
    URIs in the lock are served from there."""
    service_account_name: str | None = None
    """Service account of the predictors (read access to the artifacts, e.g. through IRSA)."""
    gpu_image: str | None = None
    """Runtime image with a CUDA build of torch for predictors on the GPU node group; KServe merges
    the predictor's container over the serving runtime's, so it replaces the CPU image there."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """What must exist first: the serving runtime, the mesh, the predictors' service account."""


class ModelRollout(pulumi.ComponentResource):
    inference_services: dict[str, k8s.apiextensions.CustomResource]
    """Variant name -> its InferenceService."""
    destination_rules: dict[str, k8s.apiextensions.CustomResource]
    authorization_policy: k8s.apiextensions.CustomResource
    variants: pulumi.Output[dict]
    """Variant name -> role, pinned version and lineage (a stack output)."""

    def __init__(self, name: str, args: ModelRolloutArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:ModelRollout", name, None, opts)
        missing = [v.model for v in args.spec.variants if v.model not in args.lock.versions]
        if missing:
            raise ValueError(
                f"model '{args.model}': {', '.join(missing)} not in the lock; expected every variant's URI locked"
            )
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        self.inference_services = {}
        self.destination_rules = {}
        lineage = {}
        for variant in args.spec.variants:
            locked = args.lock.versions[variant.model]
            vname = variant.variant_name
            self.inference_services[vname] = self._inference_service(name, args, variant, locked, child)
            self.destination_rules[vname] = self._destination_rule(name, args, variant, child)
            lineage[vname] = {
                "role": variant.role,
                "uri": variant.model,
                **locked.model_dump(mode="json", by_alias=True),
            }
        self.authorization_policy = self._authorization_policy(name, args, child)
        self.variants = pulumi.Output.from_input(lineage)
        self.register_outputs({"variants": self.variants})

    def _labels(self, args: ModelRolloutArgs, variant: VariantSpec | None = None) -> dict[str, str]:
        labels = {**PART_OF, "ml-serving.io/model": args.model}
        if variant is not None:
            labels |= {"ml-serving.io/variant": variant.variant_name, "ml-serving.io/role": variant.role}
        return labels

    def _inference_service(
        self,
        name: str,
        args: ModelRolloutArgs,
        variant: VariantSpec,
        locked: LockedVersion,
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        spec = args.spec
        resources = spec.resources
        requests = {"cpu": resources.cpu, "memory": resources.memory}
        limits = dict(requests)
        # Standard mode scales with a plain HPA, which knows CPU and memory only; a target
        # concurrency sizes the mesh's connection limits instead (see the DestinationRule).
        predictor: dict = {
            "minReplicas": spec.autoscaling.min,
            "maxReplicas": spec.autoscaling.max,
            "scaleMetric": "cpu",
            "scaleTarget": CPU_TARGET_PERCENT,
            # Pod labels: the AuthorizationPolicy selects the model's predictor pods by them.
            "labels": self._labels(args, variant),
            # Where the model server serves its metrics; the mesh merges them for Prometheus.
            "annotations": scrape_annotations(MODEL_SERVER_PORT),
        }
        if args.service_account_name:
            predictor["serviceAccountName"] = args.service_account_name
        if resources.gpu > 0:
            limits["nvidia.com/gpu"] = str(resources.gpu)
            key, value, effect = GPU_TAINT
            predictor["tolerations"] = [{"key": key, "operator": "Equal", "value": value, "effect": effect}]
            predictor["nodeSelector"] = {GPU_NODE_LABEL[0]: GPU_NODE_LABEL[1]}
        env = []
        if spec.batching is not None:
            env = [
                {"name": "ML_SERVING_MAX_BATCH_SIZE", "value": str(spec.batching.max_batch_size)},
                {"name": "ML_SERVING_MAX_LATENCY_MS", "value": f"{spec.batching.max_latency_ms:g}"},
            ]
        if resources.half_precision:
            env.append({"name": "ML_SERVING_HALF_PRECISION", "value": "true"})
        image = {"image": args.gpu_image} if resources.gpu > 0 and args.gpu_image else {}
        predictor["model"] = {
            "modelFormat": {"name": "mlflow"},
            "runtime": SERVING_RUNTIME_NAME,
            "protocolVersion": "v2",
            "storageUri": _storage_uri(locked, args.artifacts_destination),
            "resources": {"requests": requests, "limits": limits},
            **({"env": env} if env else {}),
            **image,
        }
        return k8s.apiextensions.CustomResource(
            f"{name}-{variant.variant_name}-isvc",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            metadata={
                "name": inference_service_name(args.model, variant),
                "namespace": args.namespace,
                "labels": self._labels(args, variant),
                "annotations": {
                    # Plain Deployment + Service + HPA: no Knative, no KServe traffic splitting.
                    "serving.kserve.io/deploymentMode": "Standard",
                    "serving.kserve.io/autoscalerClass": "hpa",
                    **lineage_annotations(locked),
                },
            },
            spec={"predictor": predictor},
            opts=opts,
        )

    def _destination_rule(
        self, name: str, args: ModelRolloutArgs, variant: VariantSpec, opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource:
        spec = args.spec
        breaker = spec.circuit_breaker
        # Concurrency the gateway may put on one variant: enough for a full batch per replica.
        per_replica = max(
            spec.batching.max_batch_size if spec.batching else 1, spec.autoscaling.target_concurrency or 1
        )
        ceiling = max(64, per_replica * 2 * spec.autoscaling.max)
        isvc = inference_service_name(args.model, variant)
        host = pulumi.Output.from_input(args.namespace).apply(lambda namespace: predictor_host(isvc, namespace))
        return k8s.apiextensions.CustomResource(
            f"{name}-{variant.variant_name}-dr",
            api_version="networking.istio.io/v1",
            kind="DestinationRule",
            metadata={
                "name": predictor_service(isvc),
                "namespace": args.namespace,
                "labels": self._labels(args, variant),
            },
            spec={
                "host": host,
                "trafficPolicy": {
                    "connectionPool": {
                        "tcp": {"maxConnections": ceiling, "connectTimeout": "1s"},
                        "http": {"http1MaxPendingRequests": ceiling, "http2MaxRequests": ceiling, "maxRetries": 0},
                    },
                    "outlierDetection": {
                        "consecutive5xxErrors": breaker.failure_threshold,
                        "interval": "5s",
                        "baseEjectionTime": f"{max(1, round(breaker.cooldown_ms / 1000))}s",
                        "maxEjectionPercent": 50,
                    },
                },
            },
            opts=opts,
        )

    def _authorization_policy(
        self, name: str, args: ModelRolloutArgs, opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource:
        principal = pulumi.Output.concat("cluster.local/ns/", args.namespace, "/sa/", GATEWAY_SERVICE_ACCOUNT)
        return k8s.apiextensions.CustomResource(
            f"{name}-authz",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata={"name": f"{args.model}-predictors", "namespace": args.namespace, "labels": self._labels(args)},
            spec={
                "selector": {"matchLabels": {"ml-serving.io/model": args.model}},
                "action": "ALLOW",
                "rules": [{"from": [{"source": {"principals": [principal]}}]}],
            },
            opts=opts,
        )
